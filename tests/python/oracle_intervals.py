# SPDX-License-Identifier: MIT
"""A small, independent re-derivation of docs/semantics.md §1-§5 (vCPU
intervals) from host trace events, as a second oracle next to vmsim's truth.

It reads traces with `bt2` (pass the module: tests get it from the
`bt2_module` fixture) and returns SPEC §5 rows as dicts. It covers every
column that host events decide; `guest_tid`/`guest_comm` need converted
guest events and are returned as None.

Usage:
    rows = derive_vcpu_intervals(bt2, host_dirs=[kernel, ust], guest_dirs=[...])

Interpretation of the timeline start rule (semantics §3), shared with
tools/vmsim/README.md: a thread identified by a name in a `sched_switch`
starts its timeline at that switch (the event is "at or before t_id"); a
thread identified by its own KVM entry/exit starts at its last
state-establishing event *before* that entry/exit (the parenthetical
example), else at the entry/exit itself; a thread named in the statedump or
a fork starts at its first state-establishing event.
"""
import re

VCPU_NAME = re.compile(r"^CPU (\d+)/KVM$")
ENTRY = {"kvm_x86_entry", "kvm_entry"}
EXIT = {"kvm_x86_exit", "kvm_exit"}
HYPERCALL = {"kvm_x86_hypercall", "kvm_hypercall"}
COLUMNS = ["vm_uuid", "vm_name", "vcpu", "state", "begin_ns", "end_ns", "duration_ns",
           "host_tid", "pcpu", "exit_reason", "preempted_by_tid", "preempted_by_comm",
           "preempted_by_vm", "preempted_by_vcpu", "guest_tid", "guest_comm"]


class Proc:
    """A process instance (pid from first sighting to its end)."""

    def __init__(self, pid):
        self.pid = pid
        self.uuid = None
        self.vm_uids = set()
        self.threads = []
        self.ended = False
        self.guest = None  # matched guest hostname


class Thread:
    """A thread instance and, if it is a vCPU thread, its timeline."""

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
        self.sev = None  # last state-establishing event before identification
        self.rows = []  # [state, begin, end, pcpu, exit, pre_tid, pre_comm, pre_thread]
        self.ended = False

    def index(self):
        if self.named_index is not None:
            return self.named_index
        return self.field_index if self.field_index is not None else -1


class Model:
    def __init__(self):
        self.threads = {}  # tid -> current instance
        self.procs = {}  # pid -> current process instance
        self.all_threads = []
        self.all_procs = []
        self.cur = {}  # cpu -> (thread, comm)
        self.last_t = None

    # -- identity ---------------------------------------------------------
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
            th = self.new_thread(tid, pid)
        elif th.proc is None and pid is not None:
            th.proc = self.proc_for(pid)
            th.proc.threads.append(th)
        return th

    def set_name(self, th, name, t):
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

    def kill(self, th):
        th.dead = True
        p = th.proc
        if p is not None and all(x.dead for x in p.threads):
            p.ended = True

    # -- states -----------------------------------------------------------
    def apply(self, th, sev):
        if not th.is_vcpu:
            th.sev = sev
            return
        if th.ended:
            return
        state, t = sev[0], sev[1]
        if th.rows and th.rows[-1][2] is None:
            th.rows[-1][2] = t
        if state == "end":
            th.ended = True
            return
        row = list(sev)
        row.insert(2, None)  # end
        th.rows.append(row)

    def on_switch(self, t, cpu, f):
        prev = self.thread(f["prev_tid"])
        nxt = self.thread(f["next_tid"])
        ps = f["prev_state"]
        if prev.tid != 0:
            if prev.exiting or ps & (16 | 32):
                sev = ("end", t, -1, None, None, None, None)
            elif ps & 0xFF == 0:
                sev = ("preempted", t, -1, None, f["next_tid"], f["next_comm"], nxt)
            elif prev.last_exit == 12:
                sev = ("idle", t, -1, 12, None, None, None)
            else:
                sev = ("blocked", t, -1, prev.last_exit, None, None, None)
            self.apply(prev, sev)
            self.set_name(prev, f["prev_comm"], t)
            if sev[0] == "end":
                self.kill(prev)
        if nxt.tid != 0:
            self.apply(nxt, ("hypervisor", t, cpu, nxt.last_exit, None, None, None))
            self.set_name(nxt, f["next_comm"], t)
        self.cur[cpu] = nxt

    def on_kvm(self, name, t, cpu, f, has_exit_vcpu_id):
        th = self.cur.get(cpu)
        if th is None:
            return  # semantics §1: emitter unknown before the first switch
        self.identify(th)  # before applying: start at the previous event
        if name in EXIT:
            reason = f["exit_reason"] if f.get("isa", 1) == 2 else f["exit_reason"] & 0xFFFF
            th.last_exit = reason
            if has_exit_vcpu_id:
                th.field_index = f["vcpu_id"]
            self.apply(th, ("hypervisor", t, cpu, reason, None, None, None))
        else:
            if f["vcpu_id"] < 4096 and th.field_index is None:
                th.field_index = f["vcpu_id"]
            self.apply(th, ("running", t, cpu, None, None, None, None))

    def on_host_event(self, name, t, cpu, f, fields):
        self.last_t = t
        if name == "lttng_statedump_process_state":
            th = self.thread(f["tid"], f["pid"])
            self.set_name(th, f["name"], t)
        elif name == "sched_process_fork":
            th = self.new_thread(f["child_tid"], f["child_pid"])
            self.set_name(th, f["child_comm"], t)
        elif name == "sched_switch":
            self.on_switch(t, cpu, f)
        elif name in ENTRY or name in EXIT:
            self.on_kvm(name, t, cpu, f, "vcpu_id" in fields and name in EXIT)
        elif name == "sched_process_exit":
            self.thread(f["tid"]).exiting = True
        elif name in HYPERCALL or name == "vmsync_gh_host":
            th = self.cur.get(cpu)
            if th is not None and th.proc is not None:
                if name == "vmsync_gh_host":
                    th.proc.vm_uids.add(f["vm_uid"])
                elif f["nr"] == 5:
                    th.proc.vm_uids.add(f["a1"])

    def on_ust_event(self, name, t, f):
        if name.endswith(":kvm_guest") or name.endswith(":kvm_created"):
            uuid = f.get("guest_uuid", f.get("uuid"))
            p = self.procs.get(f["pid"])
            if p is not None and not p.ended and uuid:
                p.uuid = uuid.lower()
        elif name.endswith(":kvm_destroyed"):
            p = self.procs.get(f["pid"])
            if p is not None:
                p.ended = True


def _fields(ev):
    out = {}
    for k, v in ev.payload_field.items():
        try:
            out[k] = int(v)
        except (TypeError, ValueError):
            out[k] = str(v)
    return out


def _guest_info(bt2, guest_dir):
    """(hostname, product_uuid or None, vm_uid or None) of a guest trace."""
    hostname, product, uid = None, None, None
    it = bt2.TraceCollectionMessageIterator(str(guest_dir))
    for msg in it:
        if type(msg) is bt2._StreamBeginningMessageConst and hostname is None:
            env = msg.stream.trace.environment
            hostname = str(env["hostname"])
            product = str(env["product_uuid"]).lower() if "product_uuid" in env else None
        if type(msg) is bt2._EventMessageConst and msg.event.name.startswith("vmsync_"):
            uid = int(msg.event.payload_field["vm_uid"])
            break
    return hostname, product, uid


def derive_vcpu_intervals(bt2, host_dirs, guest_dirs=()):
    """SPEC §5 rows (dicts) from the host traces (kernel + UST) and the guest
    traces (only their env and vm_uid are used)."""
    model = Model()
    it = bt2.TraceCollectionMessageIterator([str(d) for d in host_dirs])
    for msg in it:
        if type(msg) is not bt2._EventMessageConst:
            continue
        ev = msg.event
        t = msg.default_clock_snapshot.ns_from_origin
        if str(ev.stream.trace.environment["domain"]) == "ust":
            model.on_ust_event(ev.name, t, _fields(ev))
        else:
            cpu = int(ev.packet.context_field["cpu_id"])
            names = set(ev.payload_field.keys())
            model.on_host_event(ev.name, t, cpu, _fields(ev), names)
    end = model.last_t
    _match_guests(bt2, model, guest_dirs)
    return _rows(model, end)


def _match_guests(bt2, model, guest_dirs):
    for gdir in guest_dirs:
        hostname, product, uid = _guest_info(bt2, gdir)
        match = None
        if product:
            match = next((p for p in model.all_procs if p.uuid == product), None)
        if match is None and uid is not None:
            match = next((p for p in model.all_procs if uid in p.vm_uids), None)
            if match is not None and match.uuid is None and product:
                match.uuid = product
        if match is not None:
            match.guest = hostname


def _vm_uuid(proc):
    return proc.uuid if proc.uuid else f"pid:{proc.pid}"


def _vm_name(model, proc):
    if proc.guest:
        return proc.guest
    main = next((th for th in proc.threads if th.tid == proc.pid), None)
    return main.name if main is not None and main.name else ""


def _rows(model, end):
    out = []
    for th in model.all_threads:
        if not th.is_vcpu:
            continue
        for state, begin, stop, pcpu, exit_reason, pre_tid, pre_comm, pre in th.rows:
            stop = end if stop is None else stop
            if stop <= begin:
                continue
            row = dict(vm_uuid=_vm_uuid(th.proc), vm_name=_vm_name(model, th.proc),
                       vcpu=th.index(), state=state, begin_ns=begin, end_ns=stop,
                       duration_ns=stop - begin, host_tid=th.tid, pcpu=pcpu,
                       exit_reason="" if exit_reason is None or state in ("running", "preempted")
                       else exit_reason,
                       preempted_by_tid="", preempted_by_comm="", preempted_by_vm="",
                       preempted_by_vcpu="", guest_tid=None, guest_comm=None)
            if state == "preempted":
                row["preempted_by_tid"] = pre_tid
                row["preempted_by_comm"] = pre_comm
                if pre is not None and pre.is_vcpu:
                    row["preempted_by_vm"] = _vm_uuid(pre.proc)
                    row["preempted_by_vcpu"] = pre.index()
            out.append(row)
    out.sort(key=lambda r: (r["vm_uuid"], r["vcpu"], r["begin_ns"], r["host_tid"]))
    return out
