/* SPDX-License-Identifier: MIT */
#define VMT_LOG_TAG "VMTRACE/SYNC-PASS"
#include "lib/sync-pass.h"

#include "lib/log.h"

#include <string.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/clock-ns.h"
#include "lib/host-event.h"
#include "lib/parallel-read.h"
#include "lib/ptr-cache.h"
#include "lib/timed-merge.h"

enum pass_kind {
	PASS_OTHER,
	PASS_GH_GUEST,
	PASS_HG_GUEST,
	PASS_GH_HOST,
	PASS_HG_HOST,
	PASS_HYPERCALL,
	PASS_ENTRY,
	PASS_SWITCH,
	PASS_STATEDUMP,
	PASS_FORK,
};

/* A thread's process from some time on (statedump or fork). */
struct tid_pid {
	int64_t ns;
	int64_t pid;
};

/* The first host thread that received a guest's vm_uid. */
struct uid_thread {
	int64_t ns;
	int64_t tid;
};

/* Payload member indexes of one event class (UINT64_MAX when absent). */
struct pass_decoding {
	enum pass_kind kind;
	uint64_t first;
	uint64_t second;
	uint64_t third;
};

/*
 * The pass's merged state, filled from the streams' notes in time order
 * (lib/timed-merge.h): streams are read in no global order, and on several
 * threads.
 */
struct pass {
	struct vmt_inventory *inventory; /* Weak. */
	struct vmt_sync_matcher *matcher; /* Owned. */
	/* Per machine: vm_uids seen in its host-side events. */
	GPtrArray *host_uids; /* Owned: GHashTable * of uint64 (set), one per machine. */
	GPtrArray *streams; /* Owned: struct pass_stream (destroy_stream). */
	/* Host tid -> GArray of struct tid_pid. */
	GHashTable *tid_pids; /* Owned: int64 key (g_new) -> GArray. */
	/* vm_uid -> struct uid_thread, the earliest exchange. */
	GHashTable *uid_threads; /* Owned: int64 key (g_new) -> struct uid_thread (g_new). */
	const struct vmt_log_ctx *log; /* Weak. */
};

enum note_kind {
	/* An exchange half for the matcher: `half`, `key` (vm_uid), `value` (cnt), `ns`. */
	NOTE_HALF,
	/* A host thread received vm_uid `key`: `value` is the thread (or <= 0), at `ns`. */
	NOTE_HOST_UID,
	/* Thread `key` belongs to process `value` from `ns` on. */
	NOTE_TID_PID,
	/* A guest's vmsync event carried vm_uid `key`. */
	NOTE_GUEST_UID,
};

/*
 * What reading a stream found for the shared state. A stream's sink may
 * run on another thread than the other streams' sinks, so it writes only
 * to its own `struct pass_stream`; its notes go through the timed merge,
 * which applies them in one order whatever the thread count.
 */
struct pass_note {
	int64_t ns; /* First: the timed merge's sort key. */
	uint64_t key;
	uint64_t value;
	enum note_kind kind;
	enum vmt_sync_event_kind half;
};

/*
 * A stream publishes its notes, and how far it has read, every this many
 * batches: rarely enough that the merge's lock costs nothing, often enough
 * that few notes wait (a batch is at most a few dozen events).
 */
#define PUBLISH_BATCHES 64

/*
 * A stream with more notes than this waiting in the merge (for slower
 * streams) is held until they catch up: 32 KiB per stream, whatever the
 * trace's length or the threads' relative speeds. Measured at 10 M events:
 * the pass takes ~5 % longer than unbounded (0.05 s; a held stream cannot
 * use its lead, though its thread's other streams read meanwhile), within
 * the chain's run-to-run noise; 4,096 saves that and holds 0.3 MiB more.
 */
#define MAX_WAITING_NOTES 1024

/* One stream of one trace, read by its own simple sink. */
struct pass_stream {
	const struct vmt_log_ctx *log; /* Weak. */
	struct vmt_trace_entry *trace; /* Weak. */
	struct vmt_machine *machine; /* Weak: read-only until the merge applies its notes. */
	uint64_t port;
	guint index; /* In the pass's `streams`, and in the merge. */
	struct vmt_timed_merge *merge; /* Weak. */
	GHashTable *decodings; /* Owned: event class (ref held) -> struct pass_decoding. */
	struct vmt_ptr_cache decoding_cache; /* Of `decodings`. */
	GArray *notes; /* Owned: struct pass_note, not published yet. */
	/* Time of the last event read. */
	int64_t last_ns;
	guint unpublished_batches;
	/* Too many of its notes wait in the merge: it reads only when the merge says so. */
	bool is_held;
	/*
	 * Host: the last vm_uid noted, and whether with a thread. A repeat adds
	 * nothing (the merge keeps the earliest thread of each vm_uid, and this
	 * stream's notes come in time order), so it is not noted.
	 */
	bool has_host_uid;
	uint64_t host_uid;
	bool host_uid_has_tid;
	/* Guests: the last vm_uid noted (one note per change, not per event). */
	bool has_guest_uid;
	uint64_t guest_uid;
	/* Guests: the times of the first and last events of the stream. */
	bool has_span;
	int64_t span_begin_ns;
	int64_t span_end_ns;
	/* Host trace without `vmsync_*_host`: hypercalls stand in for them. */
	bool uses_hypercalls;
	/* Hypercall-only variant: an exchange waiting for its thread's next entry. */
	bool has_pending;
	uint64_t pending_cnt;
	uint64_t pending_vm_uid;
	/* Host streams: the CPU's current thread (last `sched_switch`), -1 before it. */
	int64_t current_tid;
	struct vmt_clock_ns_cache clock;
};

static uint64_t member_index(const bt_field_class *payload, const char *name)
{
	uint64_t i, count;

	if (!payload || bt_field_class_get_type(payload) != BT_FIELD_CLASS_TYPE_STRUCTURE) {
		return UINT64_MAX;
	}
	count = bt_field_class_structure_get_member_count(payload);
	for (i = 0; i < count; i++) {
		const bt_field_class_structure_member *member =
			bt_field_class_structure_borrow_member_by_index_const(payload, i);
		bt_field_class_type type = bt_field_class_get_type(
			bt_field_class_structure_member_borrow_field_class_const(member));

		if (strcmp(bt_field_class_structure_member_get_name(member), name) == 0) {
			return bt_field_class_type_is(type, BT_FIELD_CLASS_TYPE_INTEGER) ?
				       i :
				       UINT64_MAX;
		}
	}
	return UINT64_MAX;
}

static struct pass_decoding *resolve(const bt_event_class *event_class)
{
	struct pass_decoding *d = g_new0(struct pass_decoding, 1);
	const char *name = bt_event_class_get_name(event_class);
	const bt_field_class *payload =
		bt_event_class_borrow_payload_field_class_const(event_class);
	enum vmt_host_event_kind host_kind = vmt_host_event_kind_from_name(name);

	d->kind = PASS_OTHER;
	if (!name) {
		return d;
	}
	if (strcmp(name, "vmsync_gh_guest") == 0) {
		d->kind = PASS_GH_GUEST;
	} else if (strcmp(name, "vmsync_hg_guest") == 0) {
		d->kind = PASS_HG_GUEST;
	} else if (strcmp(name, "vmsync_gh_host") == 0) {
		d->kind = PASS_GH_HOST;
	} else if (strcmp(name, "vmsync_hg_host") == 0) {
		d->kind = PASS_HG_HOST;
	} else if (host_kind == VMT_HOST_EVENT_HYPERCALL) {
		d->kind = PASS_HYPERCALL;
	} else if (host_kind == VMT_HOST_EVENT_KVM_ENTRY) {
		d->kind = PASS_ENTRY;
	} else if (host_kind == VMT_HOST_EVENT_SCHED_SWITCH) {
		d->kind = PASS_SWITCH;
	} else if (host_kind == VMT_HOST_EVENT_STATEDUMP_PROCESS) {
		d->kind = PASS_STATEDUMP;
	} else if (host_kind == VMT_HOST_EVENT_PROCESS_FORK) {
		d->kind = PASS_FORK;
	}
	if (d->kind == PASS_SWITCH) {
		d->first = member_index(payload, "next_tid");
		d->second = d->third = UINT64_MAX;
	} else if (d->kind == PASS_STATEDUMP) {
		d->first = member_index(payload, "tid");
		d->second = member_index(payload, "pid");
		d->third = UINT64_MAX;
	} else if (d->kind == PASS_FORK) {
		d->first = member_index(payload, "child_tid");
		d->second = member_index(payload, "child_pid");
		d->third = UINT64_MAX;
	} else if (d->kind == PASS_HYPERCALL) {
		d->first = member_index(payload, "nr");
		d->second = member_index(payload, "a0");
		d->third = member_index(payload, "a1");
	} else {
		d->first = member_index(payload, "cnt");
		d->second = member_index(payload, "vm_uid");
		d->third = UINT64_MAX;
	}
	return d;
}

static const struct pass_decoding *find_decoding(struct pass_stream *stream,
						 const bt_event_class *ec)
{
	struct pass_decoding *d = vmt_ptr_cache_find(&stream->decoding_cache, ec);

	if (d) {
		return d;
	}
	d = g_hash_table_lookup(stream->decodings, ec);
	if (!d) {
		d = resolve(ec);
		bt_event_class_get_ref(ec);
		g_hash_table_insert(stream->decodings, (gpointer) ec, d);
	}
	vmt_ptr_cache_set(&stream->decoding_cache, ec, d);
	return d;
}

static uint64_t read_member(const bt_field *payload, uint64_t index)
{
	const bt_field *field;

	if (index == UINT64_MAX) {
		return 0;
	}
	field = bt_field_structure_borrow_member_field_by_index_const(payload, index);
	if (bt_field_class_type_is(bt_field_get_class_type(field),
				   BT_FIELD_CLASS_TYPE_SIGNED_INTEGER)) {
		return (uint64_t) bt_field_integer_signed_get_value(field);
	}
	return bt_field_integer_unsigned_get_value(field);
}

static void note_host_uid(struct pass *pass, guint machine, uint64_t vm_uid, int64_t tid,
			  int64_t ns)
{
	GHashTable *set = g_ptr_array_index(pass->host_uids, machine);
	struct uid_thread *first = g_hash_table_lookup(pass->uid_threads, &vm_uid);
	uint64_t *key;

	if (!g_hash_table_contains(set, &vm_uid)) {
		key = g_new(uint64_t, 1);
		*key = vm_uid;
		g_hash_table_add(set, key);
	}
	if (tid <= 0) {
		return;
	}
	if (!first) {
		key = g_new(uint64_t, 1);
		*key = vm_uid;
		first = g_new(struct uid_thread, 1);
		first->ns = INT64_MAX;
		g_hash_table_insert(pass->uid_threads, key, first);
	}
	if (ns < first->ns) {
		first->ns = ns;
		first->tid = tid;
	}
}

static void note_tid_pid(struct pass *pass, int64_t tid, int64_t pid, int64_t ns)
{
	GArray *history = g_hash_table_lookup(pass->tid_pids, &tid);
	struct tid_pid entry = { ns, pid };

	if (tid <= 0 || pid <= 0) {
		return;
	}
	if (!history) {
		int64_t *key = g_new(int64_t, 1);

		*key = tid;
		history = g_array_new(FALSE, FALSE, sizeof(struct tid_pid));
		g_hash_table_insert(pass->tid_pids, key, history);
	}
	g_array_append_val(history, entry);
}

static void note_guest_uid(struct pass *pass, struct vmt_machine *machine, uint64_t vm_uid)
{
	if (!machine->has_vm_uid) {
		machine->has_vm_uid = true;
		machine->vm_uid = vm_uid;
	} else if (machine->vm_uid != vm_uid) {
		VMT_LOGW(pass->log,
			 "Guest has several vmsync vm_uids; keeping the first: machine=\"%s\", "
			 "first=%" PRIu64 ", other=%" PRIu64,
			 machine->id, machine->vm_uid, vm_uid);
	}
}

static void add_note(struct pass_stream *stream, enum note_kind kind, uint64_t key, uint64_t value,
		     int64_t ns)
{
	struct pass_note note = { .kind = kind, .key = key, .value = value, .ns = ns };

	g_array_append_val(stream->notes, note);
}

static void add_half(struct pass_stream *stream, enum vmt_sync_event_kind half, uint64_t vm_uid,
		     uint64_t cnt, int64_t ns)
{
	struct pass_note note = {
		.kind = NOTE_HALF, .half = half, .key = vm_uid, .value = cnt, .ns = ns
	};

	g_array_append_val(stream->notes, note);
}

static void add_host_uid(struct pass_stream *stream, uint64_t vm_uid, int64_t ns)
{
	bool has_tid = stream->current_tid > 0;

	if (stream->has_host_uid && stream->host_uid == vm_uid &&
	    (stream->host_uid_has_tid || !has_tid)) {
		return;
	}
	stream->has_host_uid = true;
	stream->host_uid = vm_uid;
	stream->host_uid_has_tid = has_tid;
	add_note(stream, NOTE_HOST_UID, vm_uid, (uint64_t) stream->current_tid, ns);
}

static void handle_host_event(struct pass_stream *stream, const struct pass_decoding *d,
			      const bt_field *payload, int64_t ns)
{
	uint64_t cnt = read_member(payload, d->first), vm_uid = read_member(payload, d->second);

	switch (d->kind) {
	case PASS_GH_HOST:
	case PASS_HG_HOST:
		if (!stream->uses_hypercalls) {
			add_half(stream,
				 d->kind == PASS_GH_HOST ? VMT_SYNC_GH_HOST : VMT_SYNC_HG_HOST,
				 vm_uid, cnt, ns);
			add_host_uid(stream, vm_uid, ns);
		}
		break;
	case PASS_HYPERCALL:
		/*
		 * `first` is nr, `second` a0 (cnt), `third` a1 (vm_uid). nr 5 is
		 * vmsync, or a PV kick whose key never matches a guest's.
		 */
		if (stream->uses_hypercalls && cnt == 5) {
			stream->pending_cnt = vm_uid;
			stream->pending_vm_uid = read_member(payload, d->third);
			stream->has_pending = true;
			add_half(stream, VMT_SYNC_GH_HOST, stream->pending_vm_uid,
				 stream->pending_cnt, ns);
			add_host_uid(stream, stream->pending_vm_uid, ns);
		}
		break;
	case PASS_ENTRY:
		if (stream->has_pending) {
			add_half(stream, VMT_SYNC_HG_HOST, stream->pending_vm_uid,
				 stream->pending_cnt + 1, ns);
			stream->has_pending = false;
		}
		break;
	case PASS_SWITCH:
		stream->has_pending = false;
		stream->current_tid = (int64_t) cnt;
		break;
	case PASS_STATEDUMP:
	case PASS_FORK:
		add_note(stream, NOTE_TID_PID, cnt, vm_uid, ns);
		break;
	default:
		break;
	}
}

static void handle_guest_event(struct pass_stream *stream, const struct pass_decoding *d,
			       const bt_field *payload, int64_t ns)
{
	uint64_t cnt, vm_uid;

	if (!stream->has_span || ns < stream->span_begin_ns) {
		stream->span_begin_ns = ns;
	}
	if (!stream->has_span || ns > stream->span_end_ns) {
		stream->span_end_ns = ns;
	}
	stream->has_span = true;
	if (d->kind != PASS_GH_GUEST && d->kind != PASS_HG_GUEST) {
		return;
	}
	cnt = read_member(payload, d->first);
	vm_uid = read_member(payload, d->second);
	if (!stream->has_guest_uid || stream->guest_uid != vm_uid) {
		stream->has_guest_uid = true;
		stream->guest_uid = vm_uid;
		add_note(stream, NOTE_GUEST_UID, vm_uid, 0, ns);
	}
	add_half(stream, d->kind == PASS_GH_GUEST ? VMT_SYNC_GH_GUEST : VMT_SYNC_HG_GUEST, vm_uid,
		 cnt, ns);
}

static enum vmt_status handle_message(void *data, const bt_message *msg)
{
	struct pass_stream *stream = data;
	const bt_event *event;
	const struct pass_decoding *d;
	int64_t ns;

	if (bt_message_get_type(msg) != BT_MESSAGE_TYPE_EVENT) {
		return VMT_STATUS_OK;
	}
	if (!bt_message_event_borrow_stream_class_default_clock_class_const(msg)) {
		return VMT_STATUS_OK;
	}
	if (!vmt_clock_ns(&stream->clock, bt_message_event_borrow_default_clock_snapshot_const(msg),
			  &ns)) {
		VMT_LOGE_APPEND_CAUSE(stream->log,
				      "Event time overflows ns from origin: trace=\"%s\"",
				      stream->trace->path);
		return VMT_STATUS_ERROR;
	}
	stream->last_ns = ns;
	event = bt_message_event_borrow_event_const(msg);
	d = find_decoding(stream, bt_event_borrow_class_const(event));
	if (stream->machine->role == VMT_ROLE_HOST) {
		if (d->kind != PASS_OTHER) {
			handle_host_event(stream, d, bt_event_borrow_payload_field_const(event),
					  ns);
		}
	} else {
		handle_guest_event(stream, d, bt_event_borrow_payload_field_const(event), ns);
	}
	return VMT_STATUS_OK;
}

/*
 * Runs on the thread of the stream's graph: touches only `data`'s stream,
 * and the timed merge (under its lock).
 */
static bt_graph_simple_sink_component_consume_func_status
stream_sink_consume(bt_message_iterator *iterator, void *data)
{
	struct pass_stream *stream = data;
	bt_graph_simple_sink_component_consume_func_status status;
	bool is_done;

	if (stream->is_held) {
		if (vmt_timed_merge_take_turn(stream->merge, stream->index) ==
		    VMT_TIMED_MERGE_YIELD) {
			return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_AGAIN;
		}
		stream->is_held = false;
	}
	status = vmt_ctf_graph_consume(iterator, data, handle_message);
	is_done = status == BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_END;
	/* Publishing takes the merge's lock: only at the end, or every few batches. */
	if (is_done || (status == BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_OK &&
			++stream->unpublished_batches >= PUBLISH_BATCHES)) {
		stream->is_held = vmt_timed_merge_publish(stream->merge, stream->index,
							  stream->notes, stream->last_ns, is_done);
		stream->unpublished_batches = 0;
	}
	if (status == BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_ERROR ||
	    status == BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_MEMORY_ERROR) {
		/* `src.ctf.fs`'s decoding causes do not always name the trace. */
		VMT_LOGE_APPEND_CAUSE(stream->log,
				      "Cannot read a stream of the trace for hypercall sync: "
				      "path=\"%s\", port=%" PRIu64,
				      stream->trace->path, stream->port);
	}
	return status;
}

static bool trace_is_read(const struct vmt_trace_entry *trace, const struct vmt_machine *machine)
{
	if (machine->role == VMT_ROLE_HOST) {
		return trace->probe.has_vmsync_host_events || trace->probe.has_hypercall_events;
	}
	return machine->role == VMT_ROLE_GUEST && machine->has_vmsync_events;
}

static void destroy_decoding_key(gpointer key)
{
	bt_event_class_put_ref(key);
}

/* The trace whose streams are being added. */
struct trace_ctx {
	struct pass *pass; /* Weak. */
	struct vmt_trace_entry *trace; /* Weak. */
};

/* Creates the sink data of one stream (one output port) of the trace being added. */
static void *create_stream(void *data, uint64_t port)
{
	struct trace_ctx *ctx = data;
	struct vmt_trace_entry *trace = ctx->trace;
	struct pass *pass = ctx->pass;
	struct pass_stream *stream = g_new0(struct pass_stream, 1);

	stream->log = pass->log;
	stream->trace = trace;
	stream->machine = vmt_inventory_machine(pass->inventory, trace->machine);
	stream->port = port;
	stream->decodings =
		g_hash_table_new_full(g_direct_hash, g_direct_equal, destroy_decoding_key, g_free);
	stream->notes = g_array_new(FALSE, FALSE, sizeof(struct pass_note));
	stream->last_ns = INT64_MIN;
	stream->index = pass->streams->len;
	stream->uses_hypercalls = !trace->probe.has_vmsync_host_events;
	stream->current_tid = -1;
	g_ptr_array_add(pass->streams, stream);
	return stream;
}

/* Runs in the calling thread, after every graph has been destroyed. */
static void destroy_stream(gpointer data)
{
	struct pass_stream *stream = data;

	g_hash_table_destroy(stream->decodings);
	g_array_free(stream->notes, TRUE);
	g_free(stream);
}

static enum vmt_status add_traces(struct pass *pass, struct vmt_parallel_read *read)
{
	struct vmt_inventory *inventory = pass->inventory;
	guint i;

	for (i = 0; i < inventory->traces->len; i++) {
		struct vmt_trace_entry *trace = g_ptr_array_index(inventory->traces, i);
		struct trace_ctx ctx = { pass, trace };

		if (!trace_is_read(trace, vmt_inventory_machine(inventory, trace->machine))) {
			continue;
		}
		if (vmt_parallel_read_add_trace(read, i, trace->paths, trace->trace_name,
						trace->path, create_stream,
						&ctx) != VMT_STATUS_OK) {
			return VMT_STATUS_ERROR;
		}
	}
	return VMT_STATUS_OK;
}

/* Applies one note of stream `index`; runs under the timed merge's lock. */
static void apply_note(void *ctx, guint index, const void *data)
{
	struct pass *pass = ctx;
	const struct pass_stream *stream = g_ptr_array_index(pass->streams, index);
	const struct pass_note *note = data;

	switch (note->kind) {
	case NOTE_HALF:
		vmt_sync_matcher_add(pass->matcher, note->half, note->key, note->value, note->ns);
		break;
	case NOTE_HOST_UID:
		note_host_uid(pass, stream->trace->machine, note->key, (int64_t) note->value,
			      note->ns);
		break;
	case NOTE_TID_PID:
		note_tid_pid(pass, (int64_t) note->key, (int64_t) note->value, note->ns);
		break;
	case NOTE_GUEST_UID:
		note_guest_uid(pass, stream->machine, note->key);
		break;
	}
}

/* Widens the stream's machine's span to the stream's (after the reading threads ended). */
static void merge_span(const struct pass_stream *stream)
{
	struct vmt_machine *machine = stream->machine;

	if (!stream->has_span) {
		return;
	}
	if (!machine->has_span || stream->span_begin_ns < machine->span_begin_ns) {
		machine->span_begin_ns = stream->span_begin_ns;
	}
	if (!machine->has_span || stream->span_end_ns > machine->span_end_ns) {
		machine->span_end_ns = stream->span_end_ns;
	}
	machine->has_span = true;
}

/* The streams one graph reads are one group of the merge, read by one thread. */
static void stream_assigned(void *ctx, void *port_data, guint graph)
{
	const struct pass_stream *stream = port_data;

	vmt_timed_merge_set_group(ctx, stream->index, graph);
}

static void graph_started(void *ctx, guint graph)
{
	vmt_timed_merge_group_started(ctx, graph);
}

static void graph_ended(void *ctx, guint graph)
{
	vmt_timed_merge_group_ended(ctx, graph);
}

/* Runs the graphs with a timed merge of the streams' notes; then the spans. */
static enum vmt_status run_streams(struct pass *pass, struct vmt_parallel_read *read)
{
	struct vmt_timed_merge *merge = vmt_timed_merge_create(
		pass->streams->len, sizeof(struct pass_note), MAX_WAITING_NOTES, apply_note, pass);
	enum vmt_status status;
	guint i;

	for (i = 0; i < pass->streams->len; i++) {
		((struct pass_stream *) g_ptr_array_index(pass->streams, i))->merge = merge;
	}
	read->hooks =
		(struct vmt_parallel_hooks){ stream_assigned, graph_started, graph_ended, merge };
	status = vmt_parallel_read_run(read);
	if (status == VMT_STATUS_OK) {
		vmt_timed_merge_finish(merge);
		for (i = 0; i < pass->streams->len; i++) {
			merge_span(g_ptr_array_index(pass->streams, i));
		}
		VMT_LOGI(pass->log,
			 "Merged the streams' notes: streams=%u, peak-waiting=%u, waits=%u, "
			 "yields=%u, unmatched-halves=%" PRIu64,
			 pass->streams->len, vmt_timed_merge_peak_waiting(merge),
			 vmt_timed_merge_wait_count(merge), vmt_timed_merge_yield_count(merge),
			 vmt_sync_matcher_unmatched_count(pass->matcher));
	} else {
		VMT_LOGE_APPEND_CAUSE(pass->log, "Cannot read the traces for hypercall sync");
	}
	vmt_timed_merge_destroy(merge);
	return status;
}

/* Reads every stream (on several threads), merging their notes in time order. */
static enum vmt_status read_streams(struct pass *pass, const struct vmt_ctf_plugins *plugins,
				    bt_logging_level level)
{
	struct vmt_parallel_read read;
	enum vmt_status status = vmt_parallel_read_init(&read, "sync-pass", plugins, level,
							stream_sink_consume, pass->log);

	if (status == VMT_STATUS_OK) {
		status = add_traces(pass, &read);
	}
	if (status == VMT_STATUS_OK) {
		status = run_streams(pass, &read);
	}
	vmt_parallel_read_fini(&read);
	return status;
}

static int find_host_of_uid(struct pass *pass, uint64_t vm_uid)
{
	guint m;

	for (m = 0; m < pass->host_uids->len; m++) {
		if (g_hash_table_contains(g_ptr_array_index(pass->host_uids, m), &vm_uid)) {
			return (int) m;
		}
	}
	return -1;
}

/* The process of the first host thread that received `vm_uid`, at that time; -1 if unknown. */
static int64_t find_pid_of_uid(struct pass *pass, uint64_t vm_uid)
{
	const struct uid_thread *first = g_hash_table_lookup(pass->uid_threads, &vm_uid);
	const GArray *history;
	int64_t pid = -1, best_ns = INT64_MIN;
	guint i;

	if (!first) {
		return -1;
	}
	history = g_hash_table_lookup(pass->tid_pids, &first->tid);
	for (i = 0; history && i < history->len; i++) {
		const struct tid_pid *entry = &g_array_index(history, struct tid_pid, i);

		if (entry->ns <= first->ns && entry->ns >= best_ns) {
			best_ns = entry->ns;
			pid = entry->pid;
		}
	}
	return pid;
}

static enum vmt_status fit_guests(struct pass *pass, struct vmt_sync_pass_result *results)
{
	enum vmt_status status;
	guint m;

	for (m = 0; m < pass->inventory->machines->len; m++) {
		struct vmt_machine *machine = vmt_inventory_machine(pass->inventory, m);
		struct vmt_sync_pass_result *result = &results[m];
		const struct vmt_sync_point *upper = NULL, *lower = NULL;
		size_t upper_count = 0, lower_count = 0;

		memset(result, 0, sizeof(*result));
		result->host = -1;
		result->host_pid = -1;
		if (machine->role != VMT_ROLE_GUEST || !machine->has_vm_uid) {
			continue;
		}
		result->host = find_host_of_uid(pass, machine->vm_uid);
		result->host_pid = find_pid_of_uid(pass, machine->vm_uid);
		if (!vmt_sync_matcher_borrow_points(pass->matcher, machine->vm_uid, &upper,
						    &upper_count, &lower, &lower_count)) {
			upper = lower = NULL;
			upper_count = lower_count = 0;
		}
		result->has_fit = true;
		result->duplicate_count = vmt_sync_matcher_duplicate_count(pass->matcher);
		status = vmt_sync_fit_points(upper, upper_count, lower, lower_count,
					     machine->span_begin_ns, machine->span_end_ns,
					     &result->fit);
		if (status != VMT_STATUS_OK) {
			VMT_LOGE_APPEND_CAUSE(pass->log,
					      "Cannot fit the clock of guest: machine=\"%s\"",
					      machine->id);
			return status;
		}
		/* The matcher kept only the points the fit uses; the counts are of all. */
		vmt_sync_matcher_point_counts(pass->matcher, machine->vm_uid,
					      &result->fit.upper_count, &result->fit.lower_count);
	}
	return VMT_STATUS_OK;
}

static void destroy_uid_set(gpointer data)
{
	g_hash_table_destroy(data);
}

enum vmt_status vmt_sync_pass_run(struct vmt_inventory *inventory,
				  const struct vmt_ctf_plugins *plugins, bt_logging_level level,
				  struct vmt_sync_pass_result *results,
				  const struct vmt_log_ctx *log)
{
	struct pass pass = { .inventory = inventory, .log = log };
	enum vmt_status status;
	guint i;

	pass.matcher = vmt_sync_matcher_create();
	pass.host_uids = g_ptr_array_new_with_free_func(destroy_uid_set);
	pass.streams = g_ptr_array_new_with_free_func(destroy_stream);
	pass.tid_pids = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
					      (GDestroyNotify) g_array_unref);
	pass.uid_threads = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	for (i = 0; i < inventory->machines->len; i++) {
		g_ptr_array_add(pass.host_uids,
				g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL));
	}
	status = read_streams(&pass, plugins, level);
	if (status == VMT_STATUS_OK) {
		status = fit_guests(&pass, results);
	}
	g_ptr_array_free(pass.streams, TRUE);
	g_hash_table_destroy(pass.tid_pids);
	g_hash_table_destroy(pass.uid_threads);
	g_ptr_array_free(pass.host_uids, TRUE);
	vmt_sync_matcher_destroy(pass.matcher);
	vmt_parallel_read_release_memory();
	return status;
}
