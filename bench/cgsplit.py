#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Summarises a callgrind profile (`valgrind --tool=callgrind`) for bench/PROFILE.md.

    /usr/bin/python3 bench/cgsplit.py callgrind.out [--top N] [--callers FN]... [--callees FN]...

Prints the self cost (instructions) per shared object (ELF) and per
function, and, on request, the callers or callees of a function with the
inclusive cost of each call edge. Debian's babeltrace2 libraries are
stripped: their internal functions show as `0x<offset>` inside their
object, which is enough to tell src.ctf.fs (ctf plugin) from the muxer
(utils plugin) from libbabeltrace2 itself.
"""
import argparse
import collections
import re
import sys

NAME_RE = re.compile(r"^\((\d+)\)(?: (.*))?$")


def parse(path):
    names = {k: {} for k in ("ob", "fl", "fn")}
    self_cost = collections.Counter()  # (ob, fn) -> Ir
    edges = collections.Counter()  # ((ob, fn), (cob, cfn)) -> inclusive Ir
    calls = collections.Counter()  # edge -> call count
    total = 0
    ob = fn = cob = cfn = None
    pending_call = None

    def resolve(kind, value):
        m = NAME_RE.match(value)
        if not m:
            return value
        ident, name = m.groups()
        if name is not None:
            names[kind][ident] = name
            return name
        return names[kind].get(ident, f"({ident})")

    with open(path, errors="replace") as f:
        for line in f:
            if not line or line[0] == "\n":
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                if len(parts) < 2:
                    continue
                ir = int(parts[1])
                if pending_call is not None:
                    edges[((ob, fn), pending_call[0])] += ir
                    calls[((ob, fn), pending_call[0])] += pending_call[1]
                    pending_call = None
                else:
                    self_cost[(ob, fn)] += ir
                continue
            key, _, value = line.rstrip("\n").partition("=")
            if key == "ob":
                ob = resolve("ob", value)
                cob = ob
            elif key == "fn":
                fn = resolve("fn", value)
                cob = ob
            elif key == "cob":
                cob = resolve("ob", value)
            elif key == "cfn":
                cfn = resolve("fn", value)
            elif key == "calls":
                pending_call = ((cob, cfn), int(value.split()[0]))
                cob = ob
            elif key in ("fl", "fi", "fe", "cfi", "cfl"):
                resolve("fl", value)
            elif key == "summary" or key == "totals":
                total = int(value.split()[0])
    if not total:
        total = sum(self_cost.values())
    return self_cost, edges, calls, total


def short_ob(ob):
    return (ob or "?").rsplit("/", 1)[-1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("profile")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--callers", action="append", default=[])
    ap.add_argument("--callees", action="append", default=[])
    args = ap.parse_args(argv)
    self_cost, edges, calls, total = parse(args.profile)
    print(f"total {total:,} Ir")
    by_ob = collections.Counter()
    for (ob, _), ir in self_cost.items():
        by_ob[short_ob(ob)] += ir
    print("\nself cost by object")
    for ob, ir in by_ob.most_common():
        if ir / total >= 0.001:
            print(f"  {ir:>14,} {100 * ir / total:6.2f}%  {ob}")
    print(f"\ntop {args.top} functions by self cost")
    for (ob, fn), ir in self_cost.most_common(args.top):
        print(f"  {ir:>14,} {100 * ir / total:6.2f}%  {fn}  [{short_ob(ob)}]")
    for want in args.callers:
        print(f"\ncallers of {want} (inclusive cost of the call, calls)")
        rows = [(ir, a, b) for (a, b), ir in edges.items() if b[1] == want or b[1].startswith(want + "'")]
        for ir, a, b in sorted(rows, reverse=True)[:25]:
            print(f"  {ir:>14,} {100 * ir / total:6.2f}%  {calls[(a, b)]:>10,}  {a[1]} [{short_ob(a[0])}]")
    for want in args.callees:
        print(f"\ncallees of {want} (inclusive cost of the call, calls)")
        rows = [(ir, a, b) for (a, b), ir in edges.items() if a[1] == want or a[1].startswith(want + "'")]
        own = sum(ir for (o, f), ir in self_cost.items() if f == want or f.startswith(want + "'"))
        print(f"  {own:>14,} {100 * own / total:6.2f}%  (self)")
        for ir, a, b in sorted(rows, reverse=True)[:25]:
            print(f"  {ir:>14,} {100 * ir / total:6.2f}%  {calls[(a, b)]:>10,}  {b[1]} [{short_ob(b[0])}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
