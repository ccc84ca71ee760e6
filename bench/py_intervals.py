#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""vCPU intervals (SPEC §5, docs/semantics.md §1-§5) in plain Python `bt2`.

This is what a user would write instead of vmtrace: one
`bt2.TraceCollectionMessageIterator` over every host and guest trace, a
dictionary-based host model, and the vCPU CSV of SPEC §5 at the end. It is
the baseline (d) of `bench/bench.py` and a second oracle for the chain
`source.vmsync.fs → filter.vmmatch.tag → sink.vmstate.intervals`
(`tests/python/test_py_oracle.py`).

    /usr/bin/python3 bench/py_intervals.py TRACES_DIR... [-o vcpu.csv]

What it computes, and what it leaves out:

- every SPEC §5 column, with the rules of docs/semantics.md §1-§5 (thread
  and process instances, vCPU identity and index, timeline start and end,
  VM naming by UUID / vm_uid / hostname, preemption attribution);
- `guest_tid`/`guest_comm` of `preempted` rows from the guest traces'
  `sched_switch` events **at their recorded timestamps**: no clock
  synchronization is done, so the result equals the chain's `sync="clock"`
  output (and the truth only when the recorded guest clocks are right);
- roles: a machine (trace env `hostname`) is a host if one of its traces
  declares KVM host events (`kvm_x86_entry`/`kvm_entry`/`kvm_x86_exit`/
  `kvm_exit`/`vmsync_gh_host`, `*:kvm_guest`, `*:kvm_created`); every other
  machine is a guest. There is no `host`/`guest-uuids`/`offsets` parameter;
- the emitting thread is the current thread of the event's CPU (packet
  context `cpu_id`); a `tid`/`pid` common-context member is not read
  (LTTng sessions without those contexts, like vmsim's traces).

The interval logic follows tests/python/oracle_intervals.py (an independent
re-derivation written for the simulator's tests), reorganised to stream all
traces through one iterator and to read only the fields it needs.
"""
import argparse
import csv
import re
import sys
import time

import bt2

VCPU_NAME = re.compile(r"^CPU (\d+)/KVM$")
ENTRY = ("kvm_x86_entry", "kvm_entry")
EXIT = ("kvm_x86_exit", "kvm_exit")
HOST_MARKERS = {"kvm_x86_entry", "kvm_entry", "kvm_x86_exit", "kvm_exit", "vmsync_gh_host"}
COLUMNS = ["vm_uuid", "vm_name", "vcpu", "state", "begin_ns", "end_ns", "duration_ns",
           "host_tid", "pcpu", "exit_reason", "preempted_by_tid", "preempted_by_comm",
           "preempted_by_vm", "preempted_by_vcpu", "guest_tid", "guest_comm"]
HLT_VMX, HLT_SVM = 12, 0x78


class Proc:
    """A process instance: a pid from its first sighting to its end."""
    __slots__ = ("pid", "uuid", "uuid_t", "vm_uids", "threads", "ended", "guest", "link_t")

    def __init__(self, pid):
        self.pid = pid
        self.uuid = None
        self.uuid_t = None  # when the host told the UUID
        self.vm_uids = {}  # vm_uid -> when first seen
        self.threads = []
        self.ended = False
        self.guest = None  # matched guest machine (hostname)
        self.link_t = None  # earliest time the match was possible (tests only)


class Thread:
    """A thread instance and, once it is known as a vCPU thread, its timeline."""
    __slots__ = ("tid", "proc", "name", "named_index", "field_index", "is_vcpu", "exiting",
                 "dead", "last_exit", "last_hlt", "sev", "rows", "ended")

    def __init__(self, tid, proc):
        self.tid = tid
        self.proc = proc
        self.name = None
        self.named_index = None
        self.field_index = None
        self.is_vcpu = False
        self.exiting = False
        self.dead = False
        self.last_exit = None
        self.last_hlt = False
        self.sev = None  # last state-establishing event before identification
        # Each row: [state, begin, end, pcpu, exit_reason, pre_tid, pre_comm,
        #            pre_thread, guest_snapshot]
        self.rows = []
        self.ended = False

    def index(self):
        if self.named_index is not None:
            return self.named_index
        return self.field_index if self.field_index is not None else -1


class Analysis:
    def __init__(self):
        self.threads = {}  # tid -> current instance
        self.procs = {}  # pid -> current instance
        self.all_threads = []
        self.all_procs = []
        self.cur = {}  # host cpu -> current Thread
        self.last_host_t = None
        self.host_machines = set()
        # guest hostname -> {"product": str|None, "vm_uid": int|None, "vm_uid_t": ns|None}
        self.guests = {}
        self.guest_cur = {}  # (guest hostname, cpu) -> (tid, comm): current guest thread
        self.guest_snap = None  # copy of guest_cur, shared until guest_cur changes
        self.handlers = {}  # event class address -> handler(msg, ev)
        self.events = 0

    # -- identity -----------------------------------------------------------
    def proc_for(self, pid):
        p = self.procs.get(pid)
        if p is None or p.ended:
            p = Proc(pid)
            self.procs[pid] = p
            self.all_procs.append(p)
        return p

    def new_thread(self, tid, pid):
        th = Thread(tid, self.proc_for(pid) if pid is not None and pid >= 0 else None)
        if th.proc is not None:
            th.proc.threads.append(th)
        self.threads[tid] = th
        self.all_threads.append(th)
        return th

    def thread(self, tid, pid=None):
        th = self.threads.get(tid)
        if th is None or th.dead:
            return self.new_thread(tid, pid)
        if th.proc is None and pid is not None and pid >= 0:
            th.proc = self.proc_for(pid)
            th.proc.threads.append(th)
        return th

    def set_name(self, th, name):
        if th.name == name:
            return
        th.name = name
        m = VCPU_NAME.match(name)
        if m:
            th.named_index = int(m.group(1))
            self.identify(th)

    def identify(self, th):
        if th.is_vcpu:
            return
        th.is_vcpu = True
        if th.sev is not None:
            self.apply(th, th.sev)
            th.sev = None

    def kill(self, th):
        th.dead = True
        p = th.proc
        if p is not None and all(x.dead for x in p.threads):
            p.ended = True

    # -- vCPU states (semantics §3) ----------------------------------------
    def apply(self, th, sev):
        """sev = (state, t, pcpu, exit_reason, pre_tid, pre_comm, pre_thread, snapshot)."""
        if not th.is_vcpu:
            th.sev = sev
            return
        if th.ended:
            return
        t = sev[1]
        rows = th.rows
        if rows and rows[-1][2] is None:
            rows[-1][2] = t
        if sev[0] is None:  # end of the timeline
            th.ended = True
            return
        rows.append([sev[0], t, None, sev[2], sev[3], sev[4], sev[5], sev[6], sev[7]])

    # -- host events ----------------------------------------------------------
    def on_sched_switch(self, t, cpu, f):
        prev_tid = int(f["prev_tid"])
        next_tid = int(f["next_tid"])
        prev_state = int(f["prev_state"])
        prev = self.thread(prev_tid)
        nxt = self.thread(next_tid)
        if prev_tid != 0:
            if prev.exiting or prev_state & (16 | 32):
                sev = (None, t, -1, None, None, None, None, None)
            elif prev_state & 0xFF == 0:
                # The current guest thread of every guest CPU, resolved at the
                # end, when the VM, its guest and the vCPU index are known.
                if self.guest_snap is None:
                    self.guest_snap = dict(self.guest_cur)
                sev = ("preempted", t, -1, None, next_tid, str(f["next_comm"]), nxt,
                       self.guest_snap)
            elif prev.last_hlt:
                sev = ("idle", t, -1, prev.last_exit, None, None, None, None)
            else:
                sev = ("blocked", t, -1, prev.last_exit, None, None, None, None)
            self.apply(prev, sev)
            self.set_name(prev, str(f["prev_comm"]))
            if sev[0] is None:
                self.kill(prev)
        if next_tid != 0:
            self.apply(nxt, ("hypervisor", t, cpu, nxt.last_exit, None, None, None, None))
            self.set_name(nxt, str(f["next_comm"]))
        self.cur[cpu] = nxt

    def on_exit(self, t, cpu, f, has_vcpu_id, has_isa):
        th = self.cur.get(cpu)
        if th is None:
            return  # semantics §1: unknown emitter before the CPU's first sched_switch
        self.identify(th)
        raw = int(f["exit_reason"])
        if has_isa and int(f["isa"]) == 2:
            reason, hlt = raw, raw == HLT_SVM
        else:
            reason = raw & 0xFFFF
            hlt = reason == HLT_VMX
        th.last_exit = reason
        th.last_hlt = hlt
        if has_vcpu_id:
            th.field_index = int(f["vcpu_id"])
        self.apply(th, ("hypervisor", t, cpu, reason, None, None, None, None))

    def on_entry(self, t, cpu, f, has_vcpu_id):
        th = self.cur.get(cpu)
        if th is None:
            return
        self.identify(th)
        if has_vcpu_id and th.field_index is None:
            v = int(f["vcpu_id"])
            if v < 4096:
                th.field_index = v
        self.apply(th, ("running", t, cpu, None, None, None, None, None))

    # -- the message loop ------------------------------------------------------
    def on_stream_beginning(self, stream):
        env = stream.trace.environment
        hostname = str(env["hostname"]) if "hostname" in env else str(stream.trace.name)
        names = {ec.name for ec in stream.cls.values()}
        if names & HOST_MARKERS or any(n.endswith((":kvm_guest", ":kvm_created"))
                                       for n in names):
            self.host_machines.add(hostname)
        g = self.guests.setdefault(hostname, {"product": None, "vm_uid": None, "vm_uid_t": None})
        if "product_uuid" in env:
            g["product"] = str(env["product_uuid"]).lower()

    def classify(self, ev):
        """The handler of an event class (cached by the class's address)."""
        ec = ev.cls
        name = ec.name
        trace = ev.stream.trace
        env = trace.environment
        hostname = str(env["hostname"]) if "hostname" in env else str(trace.name)
        domain = str(env["domain"]) if "domain" in env else "kernel"
        fields = set(ec.payload_field_class.keys()) if ec.payload_field_class else set()
        h = None
        if hostname in self.host_machines:
            if domain == "ust":
                h = self.ust_handler(name)
            else:
                h = self.host_handler(name, fields)
            if h is None:
                h = self.host_time_only
        elif hostname in self.guests:
            h = self.guest_handler(hostname, name)
        self.handlers[ec.addr] = h
        return h

    def host_handler(self, name, fields):
        def cpu_of(ev):
            return int(ev.packet.context_field["cpu_id"])

        if name == "sched_switch":
            def h(msg, ev):
                t = msg.default_clock_snapshot.ns_from_origin
                self.last_host_t = t
                self.on_sched_switch(t, cpu_of(ev), ev.payload_field)
        elif name in EXIT:
            has_vcpu_id, has_isa = "vcpu_id" in fields, "isa" in fields

            def h(msg, ev):
                t = msg.default_clock_snapshot.ns_from_origin
                self.last_host_t = t
                self.on_exit(t, cpu_of(ev), ev.payload_field, has_vcpu_id, has_isa)
        elif name in ENTRY:
            has_vcpu_id = "vcpu_id" in fields

            def h(msg, ev):
                t = msg.default_clock_snapshot.ns_from_origin
                self.last_host_t = t
                self.on_entry(t, cpu_of(ev), ev.payload_field, has_vcpu_id)
        elif name == "lttng_statedump_process_state":
            def h(msg, ev):
                self.last_host_t = msg.default_clock_snapshot.ns_from_origin
                f = ev.payload_field
                th = self.thread(int(f["tid"]), int(f["pid"]))
                self.set_name(th, str(f["name"]))
        elif name == "sched_process_fork":
            def h(msg, ev):
                self.last_host_t = msg.default_clock_snapshot.ns_from_origin
                f = ev.payload_field
                th = self.new_thread(int(f["child_tid"]), int(f["child_pid"]))
                self.set_name(th, str(f["child_comm"]))
        elif name == "sched_process_exit":
            def h(msg, ev):
                self.last_host_t = msg.default_clock_snapshot.ns_from_origin
                self.thread(int(ev.payload_field["tid"])).exiting = True
        elif name in ("kvm_x86_hypercall", "kvm_hypercall", "vmsync_gh_host"):
            is_vmsync = name == "vmsync_gh_host"

            def h(msg, ev):
                self.last_host_t = t = msg.default_clock_snapshot.ns_from_origin
                th = self.cur.get(cpu_of(ev))
                if th is None or th.proc is None:
                    return
                f = ev.payload_field
                if is_vmsync:
                    th.proc.vm_uids.setdefault(int(f["vm_uid"]), t)
                elif int(f["nr"]) == 5:
                    th.proc.vm_uids.setdefault(int(f["a1"]), t)
        else:
            return None
        return h

    def ust_handler(self, name):
        if name.endswith((":kvm_guest", ":kvm_created")):
            key = "guest_uuid" if name.endswith(":kvm_guest") else "uuid"

            def h(msg, ev):
                self.last_host_t = t = msg.default_clock_snapshot.ns_from_origin
                f = ev.payload_field
                p = self.procs.get(int(f["pid"]))
                uuid = str(f[key])
                if p is not None and not p.ended and uuid:
                    p.uuid = uuid.lower()
                    if p.uuid_t is None:
                        p.uuid_t = t
        elif name.endswith(":kvm_destroyed"):
            def h(msg, ev):
                self.last_host_t = msg.default_clock_snapshot.ns_from_origin
                p = self.procs.get(int(ev.payload_field["pid"]))
                if p is not None:
                    p.ended = True
        else:
            return None
        return h

    def guest_handler(self, hostname, name):
        if name == "sched_switch":
            cur = self.guest_cur

            def h(msg, ev):
                f = ev.payload_field
                cpu = int(ev.packet.context_field["cpu_id"])
                cur[(hostname, cpu)] = (int(f["next_tid"]), str(f["next_comm"]))
                self.guest_snap = None
        elif name.startswith("vmsync_") and name.endswith("_guest"):
            g = self.guests[hostname]

            def h(msg, ev):
                if g["vm_uid"] is None:
                    g["vm_uid"] = int(ev.payload_field["vm_uid"])
                    g["vm_uid_t"] = msg.default_clock_snapshot.ns_from_origin
        else:
            return None
        return h

    def host_time_only(self, msg, ev):
        self.last_host_t = msg.default_clock_snapshot.ns_from_origin

    def run(self, inputs):
        it = bt2.TraceCollectionMessageIterator([str(p) for p in inputs])
        event_type = bt2._EventMessageConst
        sb_type = bt2._StreamBeginningMessageConst
        handlers = self.handlers
        n = 0
        for msg in it:
            if type(msg) is not event_type:
                if type(msg) is sb_type:
                    self.on_stream_beginning(msg.stream)
                continue
            n += 1
            ev = msg.event
            try:
                h = handlers[ev.cls.addr]
            except KeyError:
                h = self.classify(ev)
            if h is not None:
                h(msg, ev)
        self.events = n

    # -- rows (semantics §4-§5) ----------------------------------------------
    def match_guests(self):
        for hostname, g in self.guests.items():
            if hostname in self.host_machines:
                continue
            match = None
            if g["product"]:
                match = next((p for p in self.all_procs if p.uuid == g["product"]), None)
                if match is not None:
                    match.link_t = match.uuid_t
            if match is None and g["vm_uid"] is not None:
                match = next((p for p in self.all_procs if g["vm_uid"] in p.vm_uids), None)
                if match is not None:
                    match.link_t = max(match.vm_uids[g["vm_uid"]], g["vm_uid_t"])
                    if match.uuid is None and g["product"]:
                        match.uuid = g["product"]
            if match is not None:
                match.guest = hostname

    @staticmethod
    def vm_uuid(proc):
        if proc is None:
            return "pid:-1"
        return proc.uuid if proc.uuid else f"pid:{proc.pid}"

    @staticmethod
    def vm_name(proc):
        if proc is None:
            return ""
        if proc.guest:
            return proc.guest
        main = next((th for th in proc.threads if th.tid == proc.pid), None)
        return main.name if main is not None and main.name else ""

    def rows(self):
        self.match_guests()
        end = self.last_host_t
        out = []
        for th in self.all_threads:
            if not th.is_vcpu:
                continue
            proc = th.proc
            vm_uuid, vm_name, vcpu = self.vm_uuid(proc), self.vm_name(proc), th.index()
            guest = proc.guest if proc is not None else None
            prev = None
            for state, begin, stop, pcpu, reason, pre_tid, pre_comm, pre, snap in th.rows:
                stop = end if stop is None else stop
                if stop <= begin:
                    continue
                row = [vm_uuid, vm_name, vcpu, state, begin, stop, 0, th.tid, pcpu,
                       "" if reason is None or state in ("running", "preempted") else reason,
                       "", "", "", "", "", ""]
                if state == "preempted":
                    row[10], row[11] = pre_tid, pre_comm
                    if pre is not None and pre.is_vcpu:
                        row[12], row[13] = self.vm_uuid(pre.proc), pre.index()
                    if guest is not None and vcpu >= 0 and snap:
                        g = snap.get((guest, vcpu))
                        if g is not None:
                            row[14], row[15] = g
                # Maximal rows: merge with the previous row if every column
                # but the times is equal (semantics §4).
                if prev is not None and prev[5] == begin and prev[7:] == row[7:] \
                        and prev[3] == state:
                    prev[5] = stop
                    continue
                out.append(row)
                prev = row
        for r in out:
            r[6] = r[5] - r[4]
        out.sort(key=lambda r: (r[0].encode(), r[2], r[4], r[7]))
        return out


def write_csv(rows, f):
    w = csv.writer(f, lineterminator="\n")
    w.writerow(COLUMNS)
    w.writerows(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", nargs="+", help="trace directories (searched recursively)")
    ap.add_argument("-o", "--output", help="CSV path (default: standard output)")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    a = Analysis()
    a.run(args.inputs)
    rows = a.rows()
    if args.output:
        with open(args.output, "w", newline="") as f:
            write_csv(rows, f)
    else:
        write_csv(rows, sys.stdout)
    dt = time.monotonic() - t0
    print(f"py_intervals: {a.events} events, {len(rows)} rows, {dt:.2f} s, "
          f"{a.events / dt / 1e3:.1f} k events/s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
