# SPDX-License-Identifier: MIT
"""Prints, per stream, the event count and a digest of every event's fields.

Usage: /usr/bin/python3 digest_streams.py PLUGIN_DIR MODE INPUT...
MODE: `ref` (src.ctf.fs, as the CLI discovers traces), `none` or `default`
(source.vmsync.fs with that sync), `tag` (source.vmsync.fs ->
filter.vmmatch.tag; the `vm` member of guest events is left out).

Unlike `sink.text.details`, strings are read up to their length: Babeltrace
2.0.4 leaves a cleared string field's old bytes in place (fixed in 2.0.5,
commit d321ba031), so an empty string of a recycled event prints stale text,
and which stale text depends on how long other messages live.
"""
import hashlib
import json
import sys

import bt2


def value(field, skip_vm=False):
    if isinstance(field, bt2._StringFieldConst):
        return str(field)[:len(field)]
    if isinstance(field, bt2._StructureFieldConst):
        return [(name, value(member)) for name, member in field.items()
                if not (skip_vm and name == "vm")]
    if isinstance(field, (bt2._ArrayFieldConst,)):
        return [value(element) for element in field]
    if isinstance(field, bt2._OptionFieldConst):
        return None if field.field is None else value(field.field)
    if isinstance(field, bt2._VariantFieldConst):
        return [field.selected_option_index, value(field.selected_option)]
    if isinstance(field, bt2._RealFieldConst):
        return repr(float(field))
    return str(field)


def main():
    plugin_dir, mode, inputs = sys.argv[1], sys.argv[2], sys.argv[3:]
    if mode == "ref":
        source = [bt2.AutoSourceComponentSpec(path) for path in inputs]
        filters = []
    else:
        plugins = {p.name: p for p in bt2.find_plugins_in_path(plugin_dir,
                                                                fail_on_load_error=True)}
        params = {"inputs": inputs}
        if mode in ("none",):
            params["sync"] = mode
        source = bt2.ComponentSpec(plugins["vmsync"].source_component_classes["fs"], params)
        filters = ([bt2.ComponentSpec(plugins["vmmatch"].filter_component_classes["tag"])]
                   if mode == "tag" else [])
    streams = {}
    for msg in bt2.TraceCollectionMessageIterator(source, filters):
        if type(msg) is not bt2._EventMessageConst:
            continue
        event = msg.event
        stream = event.stream
        env = stream.trace.environment
        skip_vm = mode == "tag" and "vmtrace_role" in env and str(env["vmtrace_role"]) == "guest"
        fields = [event.name]
        for scope in ("common_context_field", "specific_context_field", "payload_field"):
            scope_field = getattr(event, scope)
            fields.append(None if scope_field is None
                          else value(scope_field, skip_vm and scope == "common_context_field"))
        key = str(stream.name)
        count, digest = streams.get(key, (0, hashlib.sha256()))
        digest.update(json.dumps(fields).encode())
        streams[key] = (count + 1, digest)
    json.dump({name: [count, digest.hexdigest()] for name, (count, digest) in streams.items()},
              sys.stdout)


if __name__ == "__main__":
    main()
