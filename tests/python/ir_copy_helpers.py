# SPDX-License-Identifier: MIT
"""Helpers of test_ir_copy.py: `sink.text.details` comparisons, and a bt2
graph (Python source -> `filter.irtest.copy` -> Python sink) that covers
every 2.0 field class type and message type.

The graph part runs in a subprocess (`python3 ir_copy_helpers.py
PLUGIN_DIR PARAMS`) and prints one JSON document: a C crash then fails one test
instead of killing pytest.
"""
import json
import re
import subprocess
import sys
import uuid

try:
    import bt2
except ImportError:  # Only Debian's /usr/bin/python3 has it; the details helpers do not need it.
    bt2 = None

# --- sink.text.details comparisons --------------------------------------

# `[952,732,782,760,215 cycles, 1,565,031,939,266,917,593 ns from origin]`
TIME_RE = re.compile(r"^\[([\d,]+) cycles, (-?[\d,]+) ns from origin\]$")


def parse_time(line):
    """(cycles, ns) of a details timestamp line, or None."""
    match = TIME_RE.match(line)
    if not match:
        return None
    return int(match.group(1).replace(",", "")), int(match.group(2).replace(",", ""))


def diff_shifted(ref_lines, out_lines, offset_ns):
    """Problems (at most 10) where `out` is not `ref` with every timestamp
    shifted by `offset_ns`; every clock of the corpus is 1 GHz, so cycles
    move by the same amount."""
    problems = []
    shifted = 0
    for number, (ref, out) in enumerate(zip(ref_lines, out_lines), 1):
        if ref == out:
            continue
        ref_time, out_time = parse_time(ref), parse_time(out)
        if ref_time and out_time and out_time[0] - ref_time[0] == offset_ns and \
                out_time[1] - ref_time[1] == offset_ns:
            shifted += 1
            continue
        problems.append(f"line {number}: {ref!r} -> {out!r}")
        if len(problems) >= 10:
            break
    return problems, shifted


MEMBER_COUNT_RE = re.compile(r"^(\s*Event common context field class: Structure) \((\d+) members?\):?$")


def strip_added_member(out_lines):
    """`out_lines` without what `add-member=true` adds, and the sequence of
    `irtest_seq` values found."""
    result, seqs = [], []
    index = 0
    while index < len(out_lines):
        line = out_lines[index]
        if line.strip().startswith("irtest_seq: Signed integer"):
            index += 1
            continue
        match = MEMBER_COUNT_RE.match(line)
        if match:
            count = int(match.group(2)) - 1
            if count > 0:
                result.append(f"{match.group(1)} ({count} member{'s' if count > 1 else ''}):")
            index += 1
            continue
        if line.strip().startswith("irtest_seq: "):
            seqs.append(int(line.split(":")[1].replace(",", "")))
            # A context with no other member disappears with its header.
            if result and result[-1].strip() == "Common context:" and (
                    index + 1 >= len(out_lines) or
                    _indent(out_lines[index + 1]) <= _indent(result[-1])):
                result.pop()
            index += 1
            continue
        result.append(line)
        index += 1
    return result, seqs


def _indent(line):
    return len(line) - len(line.lstrip(" ")) if line.strip() else -1


def stream_lines(cmd, stderr_file):
    """Starts `cmd`; returns the process and an iterator over its stdout lines."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr_file, text=True,
                            errors="replace", bufsize=1 << 20)
    return proc, (line.rstrip("\n") for line in proc.stdout)


# --- bt2 graph: every field class and message type ----------------------

SC_A_ID, SC_B_ID, SC_C_ID = 5, 9, 11
EC_ALL_ID, EC_BIG_ID, EC_LATE_ID = 3, 70000, 17
CLOCK_FREQ = 1000


def _ua(tag):
    return {"tag": tag, "n": 7, "list": [1, "two"], "flag": True}


def _build_payload_class(tc):
    """A payload with every 2.0 field class type, and field paths of every
    kind (same scope, packet context, common context, through an array
    element and an option's content)."""
    u8 = tc.create_unsigned_integer_field_class(8, bt2.IntegerDisplayBase.HEXADECIMAL)
    payload = tc.create_structure_field_class(user_attributes=_ua("payload"))
    payload.append_member("b", tc.create_bool_field_class(user_attributes=_ua("bool")))
    payload.append_member("bits", tc.create_bit_array_field_class(13))
    payload.append_member("u8", u8, user_attributes=_ua("member"))
    payload.append_member("s64", tc.create_signed_integer_field_class(
        64, bt2.IntegerDisplayBase.OCTAL))
    ue = tc.create_unsigned_enumeration_field_class(32, bt2.IntegerDisplayBase.BINARY)
    ue.add_mapping("A", bt2.UnsignedIntegerRangeSet([(0, 1)]))
    ue.add_mapping("B", bt2.UnsignedIntegerRangeSet([(1, 1), (5, 10)]))
    payload.append_member("ue", ue)
    se = tc.create_signed_enumeration_field_class(16)
    se.add_mapping("NEG", bt2.SignedIntegerRangeSet([(-10, -1)]))
    se.add_mapping("POS", bt2.SignedIntegerRangeSet([(1, 10)]))
    payload.append_member("se", se)
    payload.append_member("f32", tc.create_single_precision_real_field_class())
    payload.append_member("f64", tc.create_double_precision_real_field_class())
    payload.append_member("str", tc.create_string_field_class())
    payload.append_member("sarr", tc.create_static_array_field_class(
        tc.create_unsigned_integer_field_class(), 3))
    dlen = tc.create_unsigned_integer_field_class(16)
    payload.append_member("dlen", dlen)
    elem = tc.create_structure_field_class()
    elem.append_member("x", tc.create_signed_integer_field_class())
    payload.append_member("darr", tc.create_dynamic_array_field_class(elem, dlen))
    payload.append_member("darr_nolen", tc.create_dynamic_array_field_class(
        tc.create_string_field_class()))
    _append_options(tc, payload)
    _append_variants(tc, payload)
    _append_nested(tc, payload)
    return payload


def _append_options(tc, payload):
    payload.append_member("opt_none", tc.create_option_without_selector_field_class(
        tc.create_unsigned_integer_field_class()))
    osel = tc.create_bool_field_class()
    payload.append_member("osel", osel)
    payload.append_member("opt_bool", tc.create_option_with_bool_selector_field_class(
        tc.create_string_field_class(), osel, selector_is_reversed=True))
    ousel = tc.create_unsigned_integer_field_class()
    payload.append_member("ousel", ousel)
    payload.append_member("opt_u", tc.create_option_with_integer_selector_field_class(
        tc.create_double_precision_real_field_class(), ousel,
        bt2.UnsignedIntegerRangeSet([(3, 4), (8, 8)])))


def _append_variants(tc, payload):
    var_none = tc.create_variant_field_class(user_attributes=_ua("variant"))
    var_none.append_option("i", tc.create_signed_integer_field_class(),
                           user_attributes=_ua("option"))
    var_none.append_option("s", tc.create_string_field_class())
    payload.append_member("var_none", var_none)
    vusel = tc.create_unsigned_integer_field_class()
    payload.append_member("vusel", vusel)
    var_u = tc.create_variant_field_class(vusel)
    var_u.append_option("lo", tc.create_bool_field_class(),
                        bt2.UnsignedIntegerRangeSet([(0, 9)]))
    var_u.append_option("hi", tc.create_string_field_class(),
                        bt2.UnsignedIntegerRangeSet([(10, 19)]), user_attributes=_ua("vu"))
    payload.append_member("var_u", var_u)


def _append_nested(tc, payload):
    # Length inside the current array element.
    inner = tc.create_structure_field_class()
    n = tc.create_unsigned_integer_field_class()
    inner.append_member("n", n)
    inner.append_member("seq", tc.create_dynamic_array_field_class(
        tc.create_signed_integer_field_class(8), n))
    payload.append_member("nested", tc.create_static_array_field_class(inner, 2))
    # Length inside the current option content.
    content = tc.create_structure_field_class()
    m = tc.create_unsigned_integer_field_class()
    content.append_member("m", m)
    content.append_member("seq", tc.create_dynamic_array_field_class(
        tc.create_bool_field_class(), m))
    payload.append_member("opt_nested", tc.create_option_without_selector_field_class(content))


def _build_contexts(tc):
    pctx = tc.create_structure_field_class(user_attributes=_ua("pctx"))
    pctx.append_member("pc_u", tc.create_unsigned_integer_field_class())
    pc_vsel = tc.create_signed_integer_field_class()
    pctx.append_member("pc_vsel", pc_vsel)
    cctx = tc.create_structure_field_class()
    cc_sel = tc.create_signed_integer_field_class()
    cctx.append_member("cc_sel", cc_sel)
    cctx.append_member("cc_u", tc.create_unsigned_integer_field_class(8))
    return pctx, pc_vsel, cctx, cc_sel


def _build_late_payload(comp):
    tc = comp.tc
    payload = tc.create_structure_field_class()
    payload.append_member("seq", tc.create_dynamic_array_field_class(
        tc.create_unsigned_integer_field_class(8), comp.cc_u))
    var = tc.create_variant_field_class(comp.pc_vsel)
    var.append_option("neg", tc.create_bool_field_class(), bt2.SignedIntegerRangeSet([(-9, -1)]))
    var.append_option("pos", tc.create_string_field_class(), bt2.SignedIntegerRangeSet([(0, 9)]))
    payload.append_member("var", var)
    return payload


def _build_specific_context(tc, pc_vsel, cc_sel):
    """Selectors in the packet context and the event common context."""
    spec = tc.create_structure_field_class()
    var_s = tc.create_variant_field_class(pc_vsel)
    var_s.append_option("neg", tc.create_signed_integer_field_class(),
                        bt2.SignedIntegerRangeSet([(-100, -1)]))
    var_s.append_option("pos", tc.create_unsigned_integer_field_class(),
                        bt2.SignedIntegerRangeSet([(0, 100)]))
    spec.append_member("var_s", var_s)
    spec.append_member("opt_s", tc.create_option_with_integer_selector_field_class(
        tc.create_signed_integer_field_class(), cc_sel,
        bt2.SignedIntegerRangeSet([(-5, -5), (1, 2)])))
    return spec


def _define_source():
    """Defined lazily: `bt2` is only importable from /usr/bin/python3."""

    class IrSourceIter(bt2._UserMessageIterator):
        def __init__(self, config, port):
            self._gen = self._script(self._component)

        def __next__(self):
            return next(self._gen)

        def _event(self, ec, parent, cs=None):
            return self._create_event_message(ec, parent, default_clock_snapshot=cs)

        def _script(self, comp):
            sa, sb, sc = comp.streams
            yield self._create_stream_beginning_message(sa, default_clock_snapshot=100)
            yield self._create_stream_beginning_message(sb)
            yield self._create_stream_beginning_message(sc)
            pa = sa.create_packet()
            pa.context_field["pc_u"] = 7
            pa.context_field["pc_vsel"] = -3
            yield self._create_packet_beginning_message(pa, 100)
            for index in range(3):
                msg = self._event(comp.ec_all, pa, 110 + index)
                _fill_all_types(msg.event, index)
                yield msg
            msg = self._event(comp.ec_big, pa, 120)
            msg.event.common_context_field["cc_sel"] = 0
            msg.event.common_context_field["cc_u"] = 255
            msg.event.payload_field["x"] = -(2 ** 63)
            yield msg
            msg = self._event(comp.ec_noclock, sb)
            msg.event.payload_field["s"] = "no clock, no packet"
            yield msg
            yield self._event(comp.ec_empty, sc, 125)
            yield self._create_discarded_events_message(sc, count=3)
            yield self._create_packet_end_message(pa, 130)
            yield self._create_discarded_events_message(
                sa, count=5, beg_clock_snapshot=130, end_clock_snapshot=150)
            yield self._create_discarded_packets_message(
                sa, count=2, beg_clock_snapshot=155, end_clock_snapshot=166)
            yield from self._late_part(comp, sa, sb, sc)

        def _late_part(self, comp, sa, sb, sc):
            pa = sa.create_packet()
            pa.context_field["pc_u"] = 8
            pa.context_field["pc_vsel"] = 4
            yield self._create_packet_beginning_message(pa, 166)
            # Added after the copy met the stream class: the lazy path, with
            # field paths into the stream class's scopes.
            ec_late = comp.scs[0].create_event_class(
                id=EC_LATE_ID, name="late", payload_field_class=_build_late_payload(comp))
            msg = self._event(ec_late, pa, 170)
            msg.event.common_context_field["cc_sel"] = 2
            msg.event.common_context_field["cc_u"] = 2
            msg.event.payload_field["seq"] = [5, 6]
            msg.event.payload_field["var"].selected_option_index = 1
            msg.event.payload_field["var"].value = "positive"
            yield msg
            yield self._create_packet_end_message(pa, 180)
            yield self._create_message_iterator_inactivity_message(comp.cc, 185)
            yield self._create_stream_end_message(sa, 190)
            yield self._create_stream_end_message(sb)
            yield self._create_stream_end_message(sc, 190)

    class IrSourceComp(bt2._UserSourceComponent, message_iterator_class=IrSourceIter):
        def __init__(self, config, params, obj):
            self._add_output_port("out")
            self.tc = self._create_trace_class(user_attributes=_ua("tc"),
                                               assigns_automatic_stream_class_id=False)
            self.cc = self._create_clock_class(
                frequency=CLOCK_FREQ, name="pyclock", user_attributes=_ua("cc"),
                description="a 1 kHz clock", precision=3,
                offset=bt2.ClockClassOffset(10, 500), origin_is_unix_epoch=False,
                uuid=uuid.UUID("12345678-1234-5678-1234-567812345678"))
            self._build_classes()
            trace = self.tc(name="pytrace", user_attributes=_ua("trace"),
                            uuid=uuid.UUID("87654321-4321-8765-4321-876543218765"),
                            environment={"host": "h1", "answer": 42})
            self.streams = (
                trace.create_stream(self.scs[0], id=42, name="sa", user_attributes=_ua("sa")),
                trace.create_stream(self.scs[1], id=7, name="sb"),
                trace.create_stream(self.scs[2], id=0))

        def _build_classes(self):
            tc = self.tc
            pctx, pc_vsel, cctx, cc_sel = _build_contexts(tc)
            spec = _build_specific_context(tc, pc_vsel, cc_sel)
            sca = tc.create_stream_class(
                id=SC_A_ID, name="sca", user_attributes=_ua("sca"),
                packet_context_field_class=pctx, event_common_context_field_class=cctx,
                default_clock_class=self.cc, assigns_automatic_event_class_id=False,
                assigns_automatic_stream_id=False, supports_packets=True,
                packets_have_beginning_default_clock_snapshot=True,
                packets_have_end_default_clock_snapshot=True, supports_discarded_events=True,
                discarded_events_have_default_clock_snapshots=True,
                supports_discarded_packets=True,
                discarded_packets_have_default_clock_snapshots=True)
            self.cc_u, self.pc_vsel = cctx["cc_u"].field_class, pc_vsel
            self.ec_all = sca.create_event_class(
                id=EC_ALL_ID, name="all_types", user_attributes=_ua("ec"),
                log_level=bt2.EventClassLogLevel.DEBUG_LINE, emf_uri="https://example.com/ev",
                specific_context_field_class=spec, payload_field_class=_build_payload_class(tc))
            big = tc.create_structure_field_class()
            big.append_member("x", tc.create_signed_integer_field_class())
            self.ec_big = sca.create_event_class(id=EC_BIG_ID, name="big_id",
                                                 payload_field_class=big)
            scb = tc.create_stream_class(id=SC_B_ID, assigns_automatic_stream_id=False)
            noclock = tc.create_structure_field_class()
            noclock.append_member("s", tc.create_string_field_class())
            self.ec_noclock = scb.create_event_class(name="noclock", payload_field_class=noclock)
            scc = tc.create_stream_class(id=SC_C_ID, default_clock_class=self.cc,
                                         assigns_automatic_stream_id=False,
                                         supports_discarded_events=True)
            self.ec_empty = scc.create_event_class(name="empty")
            self.scs = (sca, scb, scc)

    return IrSourceComp


def _fill_all_types(event, index):
    event.common_context_field["cc_sel"] = (-5, 1, 3)[index]
    event.common_context_field["cc_u"] = index
    spec = event.specific_context_field
    spec["var_s"].selected_option_index = 0
    spec["var_s"].value = -3
    spec["opt_s"].has_field = index < 2
    if index < 2:
        spec["opt_s"].value = -index - 1
    p = event.payload_field
    p["b"] = index == 1
    p["bits"].value_as_integer = 0x1abc >> index
    p["u8"] = 200 + index
    p["s64"] = (-(2 ** 63), -1, 2 ** 63 - 1)[index]
    p["ue"] = (0, 1, 7)[index]
    p["se"] = (-3, 0, 10)[index]
    p["f32"] = (1.5, -0.25, 3.0e38)[index]
    p["f64"] = (3.141592653589793, -1e-300, 0.0)[index]
    p["str"] = ("", "héllo wörld", "x" * 300)[index]
    p["sarr"] = [index, index + 1, 2 ** 64 - 1]
    p["dlen"] = index + 1
    p["darr"] = [{"x": -k} for k in range(index + 1)]
    p["darr_nolen"] = ["a", "", "c"][:index]
    p["opt_none"].has_field = index != 1
    if index != 1:
        p["opt_none"].value = 99
    p["osel"] = index != 0
    p["opt_bool"].has_field = index == 0
    if index == 0:
        p["opt_bool"].value = "reversed"
    p["ousel"] = (3, 5, 8)[index]
    p["opt_u"].has_field = index != 1
    if index != 1:
        p["opt_u"].value = 2.5
    p["var_none"].selected_option_index = index % 2
    p["var_none"].value = -7 if index % 2 == 0 else "opt"
    p["vusel"] = (1, 12, 9)[index]
    p["var_u"].selected_option_index = 1 if index == 1 else 0
    p["var_u"].value = "twelve" if index == 1 else True
    p["nested"] = [{"n": index, "seq": list(range(index))}, {"n": 1, "seq": [-128]}]
    p["opt_nested"].has_field = True
    p["opt_nested"].value = {"m": 2, "seq": [True, False]}


# --- Describing what a sink sees ---------------------------------------


def to_py(value):
    """A bt2 value (or None) as plain Python data."""
    if value is None:
        return None
    if isinstance(value, bt2._MapValueConst):
        return {k: to_py(v) for k, v in value.items()}
    if isinstance(value, bt2._ArrayValueConst):
        return [to_py(v) for v in value]
    for bt2_type, py_type in ((bt2._BoolValueConst, bool), (bt2._IntegerValueConst, int),
                              (bt2._RealValueConst, float), (bt2._StringValueConst, str)):
        if isinstance(value, bt2_type):
            return py_type(value)
    return repr(value)


def describe_path(path):
    if path is None:
        return None
    items = []
    for item in path:
        if isinstance(item, bt2._IndexFieldPathItem):
            items.append(item.index)
        elif isinstance(item, bt2._CurrentArrayElementFieldPathItem):
            items.append("[]")
        elif isinstance(item, bt2._CurrentOptionContentFieldPathItem):
            items.append("?")
        else:
            items.append(repr(item))
    return [str(path.root_scope), items]


def describe_ranges(ranges):
    return sorted((r.lower, r.upper) for r in ranges)


def describe_fc(fc):
    """A field class tree, with everything the copy must keep."""
    if fc is None:
        return None
    # Const or not depends on how the class was reached: compare the kind only.
    desc = {"type": type(fc).__name__.replace("Const", ""), "ua": to_py(fc.user_attributes)}
    if isinstance(fc, bt2._IntegerFieldClassConst):
        desc.update(range=fc.field_value_range, base=str(fc.preferred_display_base))
    if isinstance(fc, bt2._EnumerationFieldClassConst):
        desc["mappings"] = sorted((label, describe_ranges(m.ranges)) for label, m in fc.items())
    if isinstance(fc, bt2._BitArrayFieldClassConst):
        desc["length"] = fc.length
    if isinstance(fc, bt2._StructureFieldClassConst):
        desc["members"] = [(m.name, to_py(m.user_attributes), describe_fc(m.field_class))
                           for m in fc.values()]
    if isinstance(fc, bt2._ArrayFieldClassConst):
        desc["element"] = describe_fc(fc.element_field_class)
    if isinstance(fc, bt2._StaticArrayFieldClassConst):
        desc["length"] = fc.length
    if isinstance(fc, bt2._DynamicArrayWithLengthFieldFieldClassConst):
        desc["length_path"] = describe_path(fc.length_field_path)
    if isinstance(fc, bt2._OptionFieldClassConst):
        desc["content"] = describe_fc(fc.field_class)
    if isinstance(fc, bt2._OptionWithSelectorFieldClassConst):
        desc["selector_path"] = describe_path(fc.selector_field_path)
    if isinstance(fc, bt2._OptionWithBoolSelectorFieldClassConst):
        desc["reversed"] = fc.selector_is_reversed
    if isinstance(fc, bt2._OptionWithIntegerSelectorFieldClassConst):
        desc["ranges"] = describe_ranges(fc.ranges)
    if isinstance(fc, bt2._VariantFieldClassConst):
        desc["options"] = [_describe_option(o) for o in fc.values()]
    if isinstance(fc, bt2._VariantFieldClassWithIntegerSelectorConst):
        desc["selector_path"] = describe_path(fc.selector_field_path)
    return desc


def _describe_option(option):
    ranges = getattr(option, "ranges", None)
    return (option.name, to_py(option.user_attributes), describe_fc(option.field_class),
            describe_ranges(ranges) if ranges is not None else None)


def describe_cc(cc):
    if cc is None:
        return None
    return {"name": cc.name, "description": cc.description, "frequency": cc.frequency,
            "precision": cc.precision, "offset": (cc.offset.seconds, cc.offset.cycles),
            "epoch": cc.origin_is_unix_epoch, "uuid": str(cc.uuid) if cc.uuid else None,
            "ua": to_py(cc.user_attributes)}


def describe_ec(ec):
    return {"id": ec.id, "name": ec.name, "log_level": str(ec.log_level),
            "emf_uri": ec.emf_uri, "ua": to_py(ec.user_attributes),
            "specific": describe_fc(ec.specific_context_field_class),
            "payload": describe_fc(ec.payload_field_class)}


def describe_sc(sc):
    return {"id": sc.id, "name": sc.name, "ua": to_py(sc.user_attributes),
            "clock": describe_cc(sc.default_clock_class),
            "flags": [sc.supports_packets, sc.packets_have_beginning_default_clock_snapshot,
                      sc.packets_have_end_default_clock_snapshot, sc.supports_discarded_events,
                      sc.discarded_events_have_default_clock_snapshots,
                      sc.supports_discarded_packets,
                      sc.discarded_packets_have_default_clock_snapshots],
            # How a producer numbers new objects; a copy keeps the input's IDs.
            "auto_ids": [sc.assigns_automatic_event_class_id, sc.assigns_automatic_stream_id],
            "packet_context": describe_fc(sc.packet_context_field_class),
            "common_context": describe_fc(sc.event_common_context_field_class),
            "event_classes": sorted((describe_ec(ec) for ec in sc.values()),
                                    key=lambda d: d["id"])}


def describe_trace(trace):
    tc = trace.cls
    return {"name": trace.name, "uuid": str(trace.uuid) if trace.uuid else None,
            "env": {k: to_py(v) for k, v in trace.environment.items()},
            "ua": to_py(trace.user_attributes), "tc_ua": to_py(tc.user_attributes),
            "streams": sorted((s.id, s.name, s.cls.id, to_py(s.user_attributes))
                              for s in trace.values()),
            "stream_classes": sorted((describe_sc(sc) for sc in tc.values()),
                                     key=lambda d: d["id"])}


def describe_field(field):
    if field is None:
        return None
    if isinstance(field, bt2._StructureFieldConst):
        return {k: describe_field(v) for k, v in field.items()}
    if isinstance(field, bt2._ArrayFieldConst):
        return [describe_field(v) for v in field]
    if isinstance(field, bt2._OptionFieldConst):
        return ["opt", describe_field(field.field)]
    if isinstance(field, bt2._VariantFieldConst):
        return ["var", field.selected_option_index, describe_field(field.selected_option)]
    if isinstance(field, bt2._EnumerationFieldConst):
        return [int(field), sorted(field.labels)]
    if isinstance(field, bt2._BitArrayFieldConst):
        return ["bits", field.value_as_integer]
    if isinstance(field, bt2._BoolFieldConst):
        return bool(field)
    if isinstance(field, bt2._IntegerFieldConst):
        return int(field)
    if isinstance(field, bt2._RealFieldConst):
        return float(field)
    return str(field)


def describe_cs(cs):
    return None if cs is None else {"cycles": cs.value, "ns": cs.ns_from_origin,
                                     "clock": cs.clock_class.name}


def _stream_key(stream):
    return [stream.cls.id, stream.id]


def describe_msg(msg, seen):
    """One message; the trace (and each event class) the first time it shows up."""
    desc = {"type": type(msg).__name__.lstrip("_").replace("Const", "")}
    stream = getattr(msg, "stream", None)
    if stream is None and hasattr(msg, "packet"):
        stream = msg.packet.stream
    if stream is None and hasattr(msg, "event"):
        stream = msg.event.stream
    if stream is not None:
        desc["stream"] = _stream_key(stream)
        if stream.trace.addr not in seen:
            seen.add(stream.trace.addr)
            desc["trace"] = describe_trace(stream.trace)
    _describe_msg_content(msg, desc, seen)
    return desc


def _describe_msg_content(msg, desc, seen):
    if isinstance(msg, (bt2._StreamBeginningMessageConst, bt2._StreamEndMessageConst)):
        if msg.stream.cls.default_clock_class is not None:
            cs = msg.default_clock_snapshot
            known = isinstance(cs, bt2._ClockSnapshotConst)
            desc["cs"] = describe_cs(cs) if known else "unknown"
    elif isinstance(msg, (bt2._PacketBeginningMessageConst, bt2._PacketEndMessageConst)):
        desc["context"] = describe_field(msg.packet.context_field)
        sc = msg.packet.stream.cls
        # Asking for a snapshot the stream class does not have is a precondition (abort).
        if (sc.packets_have_beginning_default_clock_snapshot
                if isinstance(msg, bt2._PacketBeginningMessageConst)
                else sc.packets_have_end_default_clock_snapshot):
            desc["cs"] = describe_cs(msg.default_clock_snapshot)
    elif isinstance(msg, bt2._EventMessageConst):
        ev = msg.event
        if ev.cls.addr not in seen:
            seen.add(ev.cls.addr)
            desc["event_class"] = describe_ec(ev.cls)
        has_cs = ev.stream.cls.default_clock_class is not None
        desc.update(ec=ev.cls.id, cs=describe_cs(msg.default_clock_snapshot) if has_cs else None,
                    common=describe_field(ev.common_context_field),
                    specific=describe_field(ev.specific_context_field),
                    payload=describe_field(ev.payload_field))
    elif isinstance(msg, (bt2._DiscardedEventsMessageConst, bt2._DiscardedPacketsMessageConst)):
        desc["count"] = msg.count
        if msg._has_default_clock_snapshots:
            desc.update(beg=describe_cs(msg.beginning_default_clock_snapshot),
                        end=describe_cs(msg.end_default_clock_snapshot))
    elif isinstance(msg, bt2._MessageIteratorInactivityMessageConst):
        desc["cs"] = describe_cs(msg.clock_snapshot)
        desc["clock"] = describe_cc(msg.clock_snapshot.clock_class)


def _define_sink():
    class IrSink(bt2._UserSinkComponent):
        def __init__(self, config, params, obj):
            self._port = self._add_input_port("in")
            self._out = obj
            self._seen = set()

        def _user_graph_is_configured(self):
            self._it = self._create_message_iterator(self._port)

        def _user_consume(self):
            try:
                msg = next(self._it)
            except StopIteration:
                # Release the upstream iterators now, so that they are
                # finalized (and the filter logs its counts) before exit.
                del self._it
                raise
            self._out.append(describe_msg(msg, self._seen))

    return IrSink


def run_graph(plugin_dir, params):
    """Describes what reaches the sink, through `filter.irtest.copy` with
    `params`, or straight from the source when `params` is None."""
    source, sink = _define_source(), _define_sink()
    out = []
    graph = bt2.Graph()
    src = graph.add_component(source, "src")
    snk = graph.add_component(sink, "sink", obj=out)
    if params is None:
        graph.connect_ports(src.output_ports["out"], snk.input_ports["in"])
    else:
        plugins = bt2.find_plugins_in_path(str(plugin_dir), fail_on_load_error=True)
        irtest = next(p for p in plugins if p.name == "irtest")
        flt = graph.add_component(irtest.filter_component_classes["copy"], "flt",
                                  params=params, logging_level=bt2.LoggingLevel.INFO)
        graph.connect_ports(src.output_ports["out"], flt.input_ports["in"])
        graph.connect_ports(flt.output_ports["out"], snk.input_ports["in"])
    graph.run()
    return out


def main(argv):
    """`PLUGIN_DIR PARAMS`: prints, as JSON, what the sink saw; PARAMS is a
    JSON map of `filter.irtest.copy` parameters, or `null` for no filter."""
    json.dump(run_graph(argv[1], json.loads(argv[2])), sys.stdout)


if __name__ == "__main__":
    main(sys.argv)
