/* SPDX-License-Identifier: MIT */
/*
 * vmsim: a KVM host + guests trace simulator writing LTTng-like CTF traces
 * through `sink.ctf.fs`, plus the exact ground truth of docs/semantics.md.
 *
 * The program is split by concern:
 * - knobs.c: the knob table, scenario presets, `--set` parsing, help;
 * - rng.c: the deterministic PRNG (xoshiro256**) and distributions;
 * - world.c: machines, threads, VMs, clocks, traces and their paths;
 * - start.c: the state at trace start (pCPU occupants, statedumps, timers);
 * - sched.c: the host scheduler (pCPU steps, run queue, noise tasks);
 * - vcpu.c: vCPU threads (entries, exits, vmsync exchanges, lifecycle);
 * - guest.c: guest events placed inside the vCPU's guest-mode windows;
 * - reorder.c: the true-time reorder heap, release, per-trace queues, merge;
 * - ir.c: trace-IR classes (clock, stream, event classes, environment);
 * - emit.c: messages from records, packets;
 * - graph.c: the run-time source component class and the graph;
 * - main.c: the command line;
 * - truth.c: the streaming semantic model (semantics.md §1-§7; truth.h);
 * - truth-write.c, truth-json.c: the truth files.
 */
#ifndef VMTRACE_TOOLS_VMSIM_VMSIM_H
#define VMTRACE_TOOLS_VMSIM_VMSIM_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#define VMSIM_COMM_LEN 16
#define VMSIM_MAX_VMS 16
#define VMSIM_MAX_VCPUS 64
#define VMSIM_MAX_PCPUS 256
#define VMSIM_UUID_LEN 37

/* Sentinels of the simulation clock (ns since the host trace start). */
#define VMSIM_T_NEVER INT64_MAX

/* VMX basic exit reasons used by the simulator (docs/lttng-kvm-events.md §3.6). */
enum vmsim_exit_reason {
	VMSIM_EXIT_EXT_INT = 1,
	VMSIM_EXIT_HLT = 12,
	VMSIM_EXIT_VMCALL = 18,
	VMSIM_EXIT_IO = 30,
	VMSIM_EXIT_MSR_WRITE = 32,
	VMSIM_EXIT_EPT_VIOLATION = 48,
	VMSIM_EXIT_PREEMPTION_TIMER = 52,
};

/* `sched_switch.prev_state` values (lttng >= 2.10 encoding). */
enum vmsim_prev_state {
	VMSIM_PS_RUNNING = 0,
	VMSIM_PS_INTERRUPTIBLE = 1,
	VMSIM_PS_UNINTERRUPTIBLE = 2,
	VMSIM_PS_DEAD = 16,
	VMSIM_PS_ZOMBIE = 32,
	VMSIM_PS_IDLE = 128,
	VMSIM_PS_PREEMPTED = 256,
};

/* One record kind per event class, plus the two trace-boundary controls. */
enum vmsim_kind {
	VMSIM_EV_STATEDUMP_START,
	VMSIM_EV_STATEDUMP_PROCESS,
	VMSIM_EV_STATEDUMP_END,
	VMSIM_EV_SCHED_SWITCH,
	VMSIM_EV_FORK,
	VMSIM_EV_PROCESS_EXIT,
	VMSIM_EV_SCHED_WAKING,
	VMSIM_EV_KVM_ENTRY,
	VMSIM_EV_KVM_EXIT,
	VMSIM_EV_HYPERCALL,
	VMSIM_EV_GH_HOST,
	VMSIM_EV_HG_HOST,
	VMSIM_EV_IRQ_ENTRY,
	VMSIM_EV_IRQ_EXIT,
	VMSIM_EV_SOFTIRQ_ENTRY,
	VMSIM_EV_SOFTIRQ_EXIT,
	VMSIM_EV_GH_GUEST,
	VMSIM_EV_HG_GUEST,
	VMSIM_EV_UST_KVM_GUEST,
	VMSIM_EV_UST_KVM_CREATED,
	VMSIM_EV_UST_KVM_DESTROYED,
	VMSIM_EV_COUNT,
	/* Controls: stream/packet beginnings and endings of a whole trace. */
	VMSIM_CTL_TRACE_BEGIN = VMSIM_EV_COUNT,
	VMSIM_CTL_TRACE_END,
};

/*
 * One simulated event, or a trace control. Integer fields are in `v[]` in
 * the order of the event class's payload (see ir.c); short strings in
 * `c[]`; a long string (UUID, IRQ name) in `str`. `ref[]` are simulator
 * thread ids the truth model needs (never written to the trace).
 */
struct vmsim_rec {
	int64_t t; /* True host time, ns since the host trace start. */
	uint64_t seq; /* Generation order: tie-break of the reorder heap. */
	int64_t nfo; /* Recorded ns from origin (set at release). */
	uint16_t kind;
	uint16_t trace; /* Index in `sim->traces`. */
	uint16_t cpu; /* Stream: host pCPU or guest CPU. */
	uint16_t flags;
	int32_t ref[2];
	int64_t v[10];
	char c[2][VMSIM_COMM_LEN];
	const char *str; /* Weak: static or owned by a VM. */
};

enum vmsim_trace_kind {
	VMSIM_TRACE_HOST_KERNEL,
	VMSIM_TRACE_HOST_UST,
	VMSIM_TRACE_GUEST,
};

/* Kind of simulated thread: decides its behaviour on the host. */
enum vmsim_thread_kind {
	VMSIM_TK_IDLE, /* swapper/N, tid 0 */
	VMSIM_TK_KTHREAD,
	VMSIM_TK_USER,
	VMSIM_TK_HOG, /* CPU-bound user job: never sleeps long */
	VMSIM_TK_LIBVIRTD,
	VMSIM_TK_QEMU, /* QEMU main and I/O threads */
	VMSIM_TK_VCPU,
};

enum vmsim_thread_state {
	VMSIM_TS_NOT_BORN,
	VMSIM_TS_RUNNABLE,
	VMSIM_TS_RUNNING,
	VMSIM_TS_BLOCKED,
	VMSIM_TS_DEAD,
};

/* Scripted actions a thread performs the next time it runs. */
enum vmsim_todo {
	VMSIM_TODO_NONE,
	VMSIM_TODO_FORK, /* arg: child thread id */
	VMSIM_TODO_DIE,
};

#define VMSIM_MAX_TODO 80

struct vmsim_vm;

struct vmsim_thread {
	int32_t id; /* Index in `world.threads`. */
	int32_t tid, pid, ppid;
	char comm[VMSIM_COMM_LEN];
	enum vmsim_thread_kind kind;
	int32_t prio;
	struct vmsim_vm *vm; /* Weak: owned by the world; QEMU/vCPU threads. */
	int32_t vcpu; /* vCPU index, -1 for others. */
	uint32_t vcpu_ptr; /* Low 32 bits of a fake `struct kvm_vcpu *`. */
	bool is_named_vcpu; /* Its comm is `CPU <n>/KVM`. */
	char final_comm[VMSIM_COMM_LEN]; /* Name after a rename (fork_comm=parent). */

	enum vmsim_thread_state state;
	int32_t cpu; /* Current or last pCPU, -1 never ran. */
	int32_t claimed_by; /* pCPU about to switch it in, or -1. */
	int32_t pinned; /* Per-CPU kthreads: the only pCPU it runs on, or -1. */
	int64_t ready_t; /* RUNNABLE since. */
	int64_t wake_t; /* BLOCKED until (VMSIM_T_NEVER: until an action). */
	uint32_t wake_gen;
	int64_t run_left; /* Remaining CPU burst of a noise thread. */
	double run_mean_us, sleep_mean_us;

	/* vCPU threads. */
	bool in_guest;
	bool has_entered; /* Made a KVM entry already (see do_entry). */
	int64_t entry_t; /* Entry of the open guest-mode window. */
	int32_t plan_reason; /* Exit reason planned at entry. */
	int32_t last_exit; /* Low 16 bits of the last exit reason, -1 none. */
	bool hg_pending; /* Next entry carries `vmsync_hg_host`. */
	uint32_t hg_cnt;
	uint64_t hg_uid;
	bool guest_hg_pending; /* Next window starts with `vmsync_hg_guest`. */
	uint32_t guest_hg_cnt;
	bool gh_pending; /* Current window ends with a vmsync VMCALL. */
	bool kick_pending; /* Current window ends with a PV-kick VMCALL. */

	enum vmsim_todo todo[VMSIM_MAX_TODO];
	int32_t todo_arg[VMSIM_MAX_TODO];
	int todo_len;
	bool exiting; /* `sched_process_exit` emitted. */
	bool in_statedump; /* Alive at trace start. */
	int64_t born_t, died_t;
};

/* Guest-side state of one vCPU (guest CPU). */
struct vmsim_gcpu {
	int32_t task; /* Index in vm->tasks of the current guest task, -1 = idle. */
};

struct vmsim_gtask {
	int32_t tid;
	char comm[VMSIM_COMM_LEN];
	int32_t prio;
	int32_t on_cpu; /* Guest CPU it is current on, or -1. */
};

/* UUID delivery flags of a VM. */
#define VMSIM_UUID_UST 1u /* statedump `kvm_guest` / udev `kvm_created` */
#define VMSIM_UUID_PRODUCT 2u /* guest env `product_uuid` */

enum vmsim_sync_mode {
	VMSIM_SYNC_FULL,
	VMSIM_SYNC_HYPERCALL,
	VMSIM_SYNC_NONE,
};

struct vmsim_vm {
	int idx;
	char name[64]; /* Guest hostname. */
	int nvcpus;
	char uuid[VMSIM_UUID_LEN];
	uint64_t vm_uid;
	int32_t pid;
	struct vmsim_thread *main_thread; /* Weak: owned by the world. */
	struct vmsim_thread *io_thread; /* Weak. */
	struct vmsim_thread *vcpus[VMSIM_MAX_VCPUS]; /* Weak. */
	int reuse_of; /* VM whose pid and tids it reuses, or -1. */
	int64_t create_t; /* -1: exists at trace start. */
	int64_t destroy_t; /* -1: alive at the end. */
	int64_t forked_t, died_t; /* QEMU fork, last thread death. */
	int64_t udev_created_t, udev_destroyed_t, statedump_uuid_t;
	unsigned int uuid_via;
	enum vmsim_sync_mode sync;
	int64_t sync_period_ns;
	int sync_cpu;
	int64_t next_sync_t;
	uint32_t sync_cnt;
	uint64_t exchanges, kicks;
	double kick_rate_hz;
	int64_t next_kick_t;
	bool destroying;

	/* Guest trace, if any. */
	bool has_guest;
	int trace; /* Index in `sim->traces`, -1 none. */
	int64_t guest_start_t, guest_end_t;
	struct vmsim_gcpu gcpus[VMSIM_MAX_VCPUS];
	struct vmsim_gtask tasks[16];
	int ntasks;
	int gsd_next; /* Next guest statedump item (0: start, 1..ntasks, end). */

	/* Clock relation: true host rel. time <-> guest monotonic ns. */
	double drift_ppm;
	int64_t drift_ppb;
	double error_ms;
	int64_t error_ns;
	int64_t ref_t; /* True host rel. time of the reference point. */
	int64_t ref_mono; /* Guest monotonic ns at `ref_t`. */
	/*
	 * NTP-like slewing (`slew_ppm`): the rate is `drift_ppb` plus
	 * `slew_rates_ppb[k % slew_steps]` during step k (`slew_step_ns` long,
	 * counted from `ref_t`; the first step's rate before it). NULL when
	 * off. `slew_prefix[k]` is the sum of the first k steps' rates times
	 * the step (ppb * ns).
	 */
	double slew_ppm;
	int64_t slew_step_ns;
	int64_t slew_steps;
	int64_t *slew_rates_ppb; /* Owned (slew_steps entries), or NULL. */
	__int128 *slew_prefix; /* Owned (slew_steps + 1 entries), or NULL. */
};

/* The knobs (see knobs.c for the table, defaults and documentation). */
struct vmsim_knobs {
	uint64_t seed;
	int64_t duration_ms;
	int64_t target_events;
	int pcpus;
	char *vms; /* "name:nvcpus,..." */
	char *vm_create_ms, *vm_destroy_ms, *reuse_from;
	char *drift_ppm, *clock_error_ms, *uuid_via, *sync, *sync_period_ms;
	char *slew_ppm, *slew_period_ms;
	double slew_step_ms;
	int sync_cpu;
	double kick_rate_hz;
	bool guest_traces;
	char *entry_vcpu_id; /* "index" | "pointer" */
	bool exit_vcpu_id;
	char *event_names; /* "new" | "old" */
	char *vcpu_names; /* "named" | "plain" */
	char *fork_comm; /* "final" | "parent" */
	double vmx_flags_prob;
	double prev_state_256_prob;
	int noise_tasks;
	double noise_load;
	int hog_tasks;
	double wake_preempt_prob;
	double migrate_prob;
	double hlt_prob, io_block_prob;
	double guest_mean_us;
	double idle_mean_us;
	double slice_ms;
	double guest_rate_per_ms;
	bool sched_waking;
	bool irq_noise;
	char *guest_events;
	char *host_discard_ms;
	int host_discard_cpu;
	bool guest_statedump;
	double guest_delay_ms;
	int64_t margin_in_ns, margin_out_ns, margin_in_spread_ns, margin_out_spread_ns;
	int packet_events;
	char *hostname;
	char *trace_name;
	char *host_kernel_release;
	char *guest_kernel_release;
	char *start_time; /* ISO 8601 UTC of the host trace start */
};

/* A trace being written, with its trace-IR objects. */
struct vmsim_trace {
	enum vmsim_trace_kind kind;
	int ncpus;
	char hostname[64];
	char datetime[32];
	char clock_uuid[VMSIM_UUID_LEN];
	char trace_uuid[VMSIM_UUID_LEN];
	char *rel_path; /* Owned: directory relative to DIR/traces. */
	struct vmsim_vm *vm; /* Weak: guests only. */
	int64_t offset_ns; /* Recorded clock offset (ns from origin at cycle 0). */
	int64_t start_t, end_t; /* True host rel. times. */
	bool begun, ended; /* Controls released. */
	bool emitted_end; /* TRACE_END turned into messages. */
	uint64_t events;
	uint64_t kind_counts[VMSIM_EV_COUNT];

	/* Output queue of released records, sorted by `nfo` (a ring). */
	struct vmsim_rec *q;
	size_t q_cap, q_head, q_len;

	/* Trace IR (ir.c / emit.c). All owned. */
	bt_trace_class *tc;
	bt_stream_class *sc;
	bt_clock_class *cc;
	bt_event_class *ec[VMSIM_EV_COUNT];
	bt_trace *trace;
	bt_stream **streams;
	bt_packet **packets;
	uint32_t *packet_len;
	int64_t *last_nfo;
	/* Per stream: host events discarded since the last packet, not yet reported. */
	uint64_t *discarded;
};

struct vmsim_truth;

/* What a pCPU does at its next step. */
enum vmsim_step {
	VMSIM_STEP_NONE, /* Idle: waits for a wake-up to claim it. */
	VMSIM_STEP_SWITCH, /* `sched_switch` out of `cur`. */
	VMSIM_STEP_RUN_END, /* A noise thread's burst (or slice) ends. */
	VMSIM_STEP_TODO, /* A scripted action (fork, exit) of `cur`. */
	VMSIM_STEP_VCPU, /* The vCPU thread's next action (vcpu.c). */
};

/* Sub-steps of a vCPU thread on its pCPU. */
enum vmsim_vstep {
	VMSIM_VS_ENTRY,
	VMSIM_VS_EXIT,
	VMSIM_VS_DIE,
};

struct vmsim_pcpu {
	int id;
	struct vmsim_thread *cur; /* Weak. */
	struct vmsim_thread *idle; /* Weak: swapper/N. */
	struct vmsim_thread *claimed; /* Weak: thread the pending switch puts in. */
	int64_t slice_end;
	int64_t next_t;
	uint32_t gen; /* Invalidates older timers of this pCPU. */
	enum vmsim_step step;
	enum vmsim_vstep vstep;
	int64_t switch_state; /* `prev_state` of the pending switch. */
	int64_t run_start; /* Start of the current burst segment. */
	bool force_switch; /* The first switch of the trace is due after this exit. */
};

/* The whole simulation. */
struct vmsim {
	struct vmsim_knobs k;
	char *out_dir; /* Owned. */
	char *scenario; /* Owned. */
	int truth_mode; /* 0 none, 1 summary, 2 full */

	/* Host parameters. */
	int64_t host_origin_ns; /* Host ns from origin at rel. time 0. */
	int64_t host_mono0; /* Host monotonic at rel. time 0 (uptime). */
	int64_t end_t; /* Planned end (duration). */
	int64_t t_end; /* Last host kernel event time (set at finish). */
	bool finished;

	/* World. */
	GPtrArray *threads; /* Owned `struct vmsim_thread *`. */
	struct vmsim_vm *vms[VMSIM_MAX_VMS]; /* Owned. */
	int nvms;
	struct vmsim_thread *libvirtd, *sessiond; /* Weak. */
	struct vmsim_pcpu *pcpus; /* Owned array of `k.pcpus`. */
	int32_t next_tid;

	/* Traces: [0] host kernel, then UST (if any), then guests. */
	struct vmsim_trace *traces[VMSIM_MAX_VMS + 2]; /* Owned. */
	int ntraces;
	int ust_trace; /* -1 none. */

	/* Engine (sched.c / reorder.c). */
	uint64_t rng[4];
	int64_t now;
	uint64_t seq;
	GArray *timers; /* Heap of `struct vmsim_timer`. */
	GArray *heap; /* Reorder heap of `struct vmsim_rec`. */
	GPtrArray *runq; /* Weak `struct vmsim_thread *` that are RUNNABLE. */
	struct vmsim_rec scratch; /* Record being filled (vmsim_rec_new/push). */
	int64_t last_released_t;
	int64_t last_emitted_nfo; /* Invariant: the source's output is time-ordered. */
	int64_t last_host_t; /* Last released host kernel event. */
	int64_t max_host_gen_t; /* Latest host kernel event generated. */
	uint64_t generated, released;

	struct vmsim_truth *truth; /* Owned; NULL without truth. */

	/* Knobs `guest_events`, `host_discard_ms` (ir.c): kinds kept, discarded span. */
	bool guest_kind_kept[VMSIM_EV_COUNT];
	int64_t discard_from_t, discard_to_t; /* Empty span (0, 0) without discard. */
};

/* Timers of the engine. */
enum vmsim_timer_kind {
	VMSIM_TIMER_PCPU,
	VMSIM_TIMER_WAKE,
	VMSIM_TIMER_VM_CREATE,
	VMSIM_TIMER_VM_DESTROY,
	VMSIM_TIMER_QEMU_EXIT,
};

struct vmsim_timer {
	int64_t t;
	uint64_t seq;
	int kind;
	int32_t arg;
	uint32_t gen;
};

/* rng.c */
void vmsim_rng_seed(uint64_t state[4], uint64_t seed);
uint64_t vmsim_rng_u64(struct vmsim *sim);
uint64_t vmsim_rng_below(struct vmsim *sim, uint64_t n);
int64_t vmsim_rng_range(struct vmsim *sim, int64_t lo, int64_t hi);
double vmsim_rng_double(struct vmsim *sim);
bool vmsim_rng_chance(struct vmsim *sim, double p);
int64_t vmsim_rng_exp_ns(struct vmsim *sim, double mean_ns);
void vmsim_rng_uuid(struct vmsim *sim, char out[VMSIM_UUID_LEN]);

/* knobs.c */
void vmsim_knobs_init(struct vmsim_knobs *k);
void vmsim_knobs_fini(struct vmsim_knobs *k);
/* Applies one `key=value`; returns false (and prints why) on a bad knob. */
bool vmsim_knobs_set(struct vmsim_knobs *k, const char *assignment);
/* Applies a scenario preset; returns false for an unknown name. */
bool vmsim_knobs_apply_scenario(struct vmsim_knobs *k, const char *name);
void vmsim_knobs_print_help(FILE *out);
/* Writes the knobs as JSON object members (no braces) at `indent`. */
void vmsim_knobs_write_json(const struct vmsim_knobs *k, FILE *out, const char *indent);
/* Returns item `i` (cycled) of a comma-separated list, or `def`. */
const char *vmsim_list_item(const char *list, int i, char *buf, size_t len, const char *def);

/* world.c */
bool vmsim_world_build(struct vmsim *sim);
void vmsim_world_destroy(struct vmsim *sim);
/* Guest monotonic ns at true host rel. time `t` (rounded). */
int64_t vmsim_guest_mono(const struct vmsim_vm *vm, int64_t t);
void vmsim_set_comm(char dst[VMSIM_COMM_LEN], const char *src);

/* sched.c */
void vmsim_sched_start(struct vmsim *sim);
/* Runs the next timer; returns false once the simulation is over. */
bool vmsim_sched_step(struct vmsim *sim);
void vmsim_timer_push(struct vmsim *sim, int64_t t, int kind, int32_t arg, uint32_t gen);
void vmsim_pcpu_schedule(struct vmsim *sim, int p, int64_t t);
/* Makes `th` act on its pending todo soon: wakes it or reschedules its pCPU. */
void vmsim_thread_poke(struct vmsim *sim, struct vmsim_thread *th, int64_t t);
bool vmsim_has_candidate(const struct vmsim *sim, int p, const struct vmsim_thread *exclude);
/* Schedules the switch out of `cur` on `p` at `t` with `prev_state`. */
void vmsim_switch_at(struct vmsim *sim, int p, int64_t t, int64_t prev_state);
int64_t vmsim_preempt_state(struct vmsim *sim);
int64_t vmsim_slice(struct vmsim *sim);
void vmsim_emit_irq_pair(struct vmsim *sim, int p, int64_t t0, int64_t t1);

/* vcpu.c: the pCPU step of a vCPU thread and VM lifecycle. */
void vmsim_vcpu_switched_in(struct vmsim *sim, int p, struct vmsim_thread *th, int64_t t);
void vmsim_vcpu_step(struct vmsim *sim, int p, struct vmsim_thread *th);
void vmsim_vcpu_cut(struct vmsim *sim, int p, struct vmsim_thread *th, int64_t t);
void vmsim_vm_create(struct vmsim *sim, struct vmsim_vm *vm);
void vmsim_vm_destroy(struct vmsim *sim, struct vmsim_vm *vm);
void vmsim_qemu_exit(struct vmsim *sim, struct vmsim_vm *vm);
/* Lifecycle hooks called by sched.c. */
void vmsim_thread_forked(struct vmsim *sim, struct vmsim_thread *child, int64_t t);
void vmsim_thread_died(struct vmsim *sim, struct vmsim_thread *th, int64_t t);
void vmsim_vcpu_close_windows(struct vmsim *sim, int64_t bound);

/* guest.c */
void vmsim_guest_window(struct vmsim *sim, struct vmsim_thread *th, int64_t entry, int64_t exit_t,
			int32_t reason);
void vmsim_guest_init(struct vmsim *sim, struct vmsim_vm *vm);

/* reorder.c */
struct vmsim_rec *vmsim_rec_new(struct vmsim *sim, int64_t t, enum vmsim_kind kind, int trace,
				int cpu);
void vmsim_rec_push(struct vmsim *sim);
void vmsim_release(struct vmsim *sim, int64_t watermark);
/* Pops the next record in recorded-time order, or NULL if none is ready. */
bool vmsim_merge_pop(struct vmsim *sim, struct vmsim_rec *out);
void vmsim_finish(struct vmsim *sim);

/* Field types of event payloads (see ir.c). */
enum vmsim_ft {
	VMSIM_FT_U8,
	VMSIM_FT_U16,
	VMSIM_FT_U32,
	VMSIM_FT_U64,
	VMSIM_FT_S32,
	VMSIM_FT_S64,
	VMSIM_FT_STR, /* src 0/1: `c[src]`; 2: `str` */
	VMSIM_FT_SEQ_S32, /* length = the previous member's value, items from `v[src]` */
};

struct vmsim_field {
	const char *name;
	enum vmsim_ft type;
	int src;
	bool hex;
};

/* ir.c */
/* The payload members of `kind` as written in this simulation's traces. */
const struct vmsim_field *vmsim_fields(const struct vmsim *sim, enum vmsim_kind kind, int *count);
bool vmsim_ir_create(struct vmsim *sim, bt_self_component *self);
void vmsim_ir_destroy(struct vmsim *sim);
const char *vmsim_event_name(const struct vmsim *sim, enum vmsim_kind kind);

/* emit.c */
/* Turns `rec` into messages appended to `out`; returns false on error. */
bool vmsim_emit_rec(struct vmsim *sim, bt_self_message_iterator *it, const struct vmsim_rec *rec,
		    GPtrArray *out);

/* graph.c */
bool vmsim_graph_run(struct vmsim *sim);

/* truth.c */
struct vmsim_truth *vmsim_truth_create(struct vmsim *sim);
void vmsim_truth_destroy(struct vmsim_truth *truth);
void vmsim_truth_handle(struct vmsim *sim, const struct vmsim_rec *rec);
void vmsim_truth_finish(struct vmsim *sim);

/* truth-write.c */
bool vmsim_truth_write_csvs(struct vmsim *sim);

/* truth-json.c */
/* Writes `s` as a JSON string literal. */
void vmsim_json_string(FILE *out, const char *s);
bool vmsim_truth_write_json(struct vmsim *sim);

#endif /* VMTRACE_TOOLS_VMSIM_VMSIM_H */
