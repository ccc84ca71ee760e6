# SPDX-License-Identifier: MIT
"""Trace Compass XML stub trace -> LTTng-like CTF trace.

Trace Compass' VM analysis tests run on tiny XML "stub" traces
(`../shared/peer-cases/tracecompass/`): a `<trace>` root, an optional
`<set_aspects>` (a field named `cpu` there means "each event's `cpu` field
is its CPU"), then `<event timestamp="T" name="N">` elements holding
`<field name= value= type=>` children, with the types `int`, `long`,
`string`, `intArray` and `longArray` (comma-separated).

`convert()` replays such a file through a Python `bt2` source into
`sink.ctf.fs`, so that our components read it like an LTTng kernel trace:

- the same events, in file order, with the same names, the same payload
  fields (XML order, including the `cpu` field itself) and values:
  `int` -> signed 32-bit integer, `long` -> signed 64-bit integer,
  `string` -> string, `intArray`/`longArray` -> dynamic array of signed
  32/64-bit integers. The arrays get no length field in the trace IR,
  but CTF 1.8 needs one: `sink.ctf.fs` writes it and `src.ctf.fs` reads it
  back as an unsigned member `__<name>_len` just before the array (e.g.
  `__vtids_len`). That is the only member the XML lacks, and it is CTF's;
- event classes: one per event name, or one per distinct
  (name, field names and types) when a file uses one name with different
  field lists;
- timestamps: the XML value is the clock value in ns; clock class
  `monotonic`, 1 GHz, offset 0, origin the Unix epoch, with a UUID that
  is different for every host ID (uuid5 of the host ID);
- one stream per CPU (the `cpu` field when `<set_aspects>` names it, else
  everything on CPU 0), packet context `cpu_id` (unsigned 32-bit); one
  packet per stream that spans the whole trace (first to last event
  timestamp of the file), as an LTTng per-CPU ring buffer does;
- trace environment: `hostname` = the host ID (by default the one the Trace
  Compass test harness uses, `host_id()`), `domain` = `kernel`,
  `tracer_name` = `lttng-modules`, `tracer_major` = 2, `tracer_minor` = 13.
  Nothing else (no `trace_name`, no `trace_creation_datetime`, no
  `product_uuid`: the XML has none of them). The bt2 trace name is the XML
  file name, the "machine name" of Trace Compass.

Where it lands: `sink.ctf.fs` (2.0.4, `make_lttng_trace_path_rel()`)
uses the LTTng layout `OUTDIR/<hostname>/<trace_name>-<trace_creation_datetime>/kernel`
only when the env also has `trace_name` and `trace_creation_datetime`
(lttng >= 2.11 writes them; the XML has no such data, so they are not
made up). Otherwise it names the trace directory after the bt2 trace
name: `OUTDIR/<XML file name>/` (`metadata` and one `channel0_<cpu>`
stream file per CPU), with `-<n>` appended if that directory exists.
`convert()` returns the directory it wrote. Host and guest written under
one OUTDIR give `OUTDIR/host.xml/` and `OUTDIR/guest.xml/`: what
`source.vmsync.fs` wants as `inputs=["OUTDIR"]`.

The graph runs in this process; call it from a subprocess (command line:
`/usr/bin/python3 tests/python/tcxml.py IN.xml OUTDIR [--hostname NAME]`)
when a C precondition failure must not take the caller down.
"""
import argparse
import os
import pathlib
import sys
import uuid
import xml.etree.ElementTree as ET

try:
    import bt2
except ImportError:  # Only Debian's /usr/bin/python3 has it; parsing does not need it.
    bt2 = None

# Namespace of the clock UUIDs (uuid5(NS, host ID)): stable across runs.
CLOCK_UUID_NS = uuid.UUID("5f0c7a52-1d3b-4c55-9a38-7a1b7c0d3e11")

# Host IDs that Trace Compass' test harness gives the peer-case files
# (peer-cases/tracecompass/README.md, "XML stub format, in brief").
_TC_HOST_IDS = {
    ("OneQemuKvm", "host.xml"): "host.xml",
    ("OneQemuKvm", "guest.xml"): "guest.xml",
    ("QemuContainer", "host.xml"): "host",
    ("QemuContainer", "guest.xml"): "guest",
    ("Containers", "withContainers.xml"): "withContainers.xml",
}

_INT_BITS = {"int": 32, "long": 64, "intArray": 32, "longArray": 64}


def host_id(xml_path):
    """The host ID the Trace Compass test harness uses for `xml_path`;
    the file name for any other file."""
    path = pathlib.Path(xml_path)
    return _TC_HOST_IDS.get((path.parent.name, path.name), path.name)


def parse(xml_path):
    """(cpu_aspect, events) of a stub file. `events` is a list of
    (timestamp, name, [(field name, type, value)]) in file order; values are
    Python ints, strings or lists of ints."""
    root = ET.parse(xml_path).getroot()
    if root.tag != "trace":
        raise ValueError(f"{xml_path}: root element is <{root.tag}>, not <trace>")
    cpu_aspect = False
    events = []
    for elem in root:
        if elem.tag == "set_aspects":
            cpu_aspect = any(f.get("name") == "cpu" for f in elem.iter("field"))
            continue
        if elem.tag != "event":
            raise ValueError(f"{xml_path}: unexpected element <{elem.tag}>")
        fields = []
        for field in elem.findall("field"):
            ftype, raw = field.get("type"), field.get("value")
            if ftype in ("int", "long"):
                value = int(raw)
            elif ftype == "string":
                value = raw
            elif ftype in ("intArray", "longArray"):
                value = [int(v) for v in raw.split(",")] if raw.strip() else []
            else:
                raise ValueError(f"{xml_path}: field {field.get('name')}: unknown type {ftype!r}")
            if ftype in _INT_BITS:
                bits = _INT_BITS[ftype]
                for v in value if isinstance(value, list) else [value]:
                    if not -(1 << (bits - 1)) <= v < (1 << (bits - 1)):
                        raise ValueError(
                            f"{xml_path}: {field.get('name')}={v} does not fit {ftype}")
            fields.append((field.get("name"), ftype, value))
        events.append((int(elem.get("timestamp")), elem.get("name"), fields))
    return cpu_aspect, events


def event_cpu(cpu_aspect, fields):
    """CPU of an event: its `cpu` field when the `cpu` aspect is set, else 0."""
    if cpu_aspect:
        for name, _ftype, value in fields:
            if name == "cpu":
                return value
    return 0


if bt2 is not None:
    class _StubIterator(bt2._UserMessageIterator):
        def __init__(self, config, port):
            # The port's user data is the component's `_build`: messages can
            # only be created through a message iterator.
            self._msgs = port.user_data(self)
            self._index = 0

        def __next__(self):
            if self._index >= len(self._msgs):
                raise StopIteration
            self._index += 1
            return self._msgs[self._index - 1]

    class StubSource(bt2._UserSourceComponent, message_iterator_class=_StubIterator):
        """Emits one parsed stub file (obj = dict(xml=, hostname=, trace_name=))."""

        def __init__(self, config, params, obj):
            self._obj = obj
            self._add_output_port("out", self._build)

        def _build(self, it):
            """The whole message list; runs when the iterator is created
            (messages can only be created by a message iterator)."""
            obj = self._obj
            cpu_aspect, events = parse(obj["xml"])
            tc = self._create_trace_class()
            clock = self._create_clock_class(
                frequency=1_000_000_000, name="monotonic", origin_is_unix_epoch=True,
                uuid=uuid.uuid5(CLOCK_UUID_NS, obj["hostname"]))
            pkt_ctx = tc.create_structure_field_class()
            pkt_ctx.append_member("cpu_id", tc.create_unsigned_integer_field_class(32))
            sc = tc.create_stream_class(
                default_clock_class=clock, packet_context_field_class=pkt_ctx,
                supports_packets=True, packets_have_beginning_default_clock_snapshot=True,
                packets_have_end_default_clock_snapshot=True)

            classes = {}

            def event_class(name, fields):
                key = (name, tuple((f, t) for f, t, _v in fields))
                if key not in classes:
                    payload = tc.create_structure_field_class()
                    for fname, ftype, _value in fields:
                        if ftype == "string":
                            fc = tc.create_string_field_class()
                        elif ftype in ("int", "long"):
                            fc = tc.create_signed_integer_field_class(_INT_BITS[ftype])
                        else:
                            fc = tc.create_dynamic_array_field_class(
                                tc.create_signed_integer_field_class(_INT_BITS[ftype]))
                        payload.append_member(fname, fc)
                    classes[key] = sc.create_event_class(name=name, payload_field_class=payload)
                return classes[key]

            trace = tc(name=obj["trace_name"], environment={
                "hostname": obj["hostname"],
                "domain": "kernel",
                "tracer_name": "lttng-modules",
                "tracer_major": 2,
                "tracer_minor": 13,
            })
            if not events:
                return []
            begin, end = events[0][0], events[-1][0]
            cpus = sorted({event_cpu(cpu_aspect, f) for _t, _n, f in events})
            streams, packets = {}, {}
            msgs = []
            for cpu in cpus:
                streams[cpu] = trace.create_stream(sc, name=f"channel0_{cpu}")
                packets[cpu] = streams[cpu].create_packet()
                packets[cpu].context_field["cpu_id"] = cpu
                msgs.append(it._create_stream_beginning_message(streams[cpu]))
                msgs.append(it._create_packet_beginning_message(packets[cpu], begin))
            last = begin
            for ts, name, fields in events:
                if ts < last:
                    raise ValueError(f"{obj['xml']}: timestamps go back in time at {ts}")
                last = ts
                cpu = event_cpu(cpu_aspect, fields)
                msg = it._create_event_message(event_class(name, fields), packets[cpu], ts)
                for fname, _ftype, value in fields:
                    msg.event.payload_field[fname] = value
                msgs.append(msg)
            for cpu in cpus:
                msgs.append(it._create_packet_end_message(packets[cpu], end))
                msgs.append(it._create_stream_end_message(streams[cpu]))
            return msgs


def _trace_dirs(root):
    return sorted(pathlib.Path(d) for d, _sub, files in os.walk(root) if "metadata" in files)


def _run_graph(obj, out_dir):
    """StubSource -> sink.ctf.fs. `sink.ctf.fs` writes `metadata` when the
    trace object is destroyed: the graph must be gone when this returns."""
    ctf = bt2.find_plugin("ctf")
    graph = bt2.Graph()
    src = graph.add_component(StubSource, "stub", obj=obj)
    sink = graph.add_component(ctf.sink_component_classes["fs"], "ctf",
                               params={"path": str(out_dir), "quiet": True})
    graph.connect_ports(src.output_ports["out"], sink.input_ports["in"])
    graph.run()


def convert(xml_path, out_dir, hostname=None):
    """Writes the CTF trace of `xml_path` under `out_dir` (created if
    needed; must not already hold a trace for that host ID) and returns the
    trace directory (the one holding `metadata`)."""
    if bt2 is None:
        raise RuntimeError("bt2 is not importable: use /usr/bin/python3")
    xml_path = pathlib.Path(xml_path)
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    before = set(_trace_dirs(out_dir))
    obj = {"xml": str(xml_path), "hostname": hostname or host_id(xml_path),
           "trace_name": xml_path.name}
    _run_graph(obj, out_dir)
    new = [d for d in _trace_dirs(out_dir) if d not in before]
    if len(new) != 1:
        raise RuntimeError(f"sink.ctf.fs wrote {len(new)} new traces under {out_dir}: {new}")
    return new[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("xml", help="Trace Compass XML stub trace")
    parser.add_argument("out_dir", help="output directory (sink.ctf.fs `path`)")
    parser.add_argument("--hostname", help="env `hostname` (default: the Trace Compass host ID)")
    args = parser.parse_args(argv)
    print(convert(args.xml, args.out_dir, args.hostname))
    return 0


if __name__ == "__main__":
    sys.exit(main())
