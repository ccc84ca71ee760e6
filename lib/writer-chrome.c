/* SPDX-License-Identifier: MIT */
/*
 * The `chrome` writer: Chrome trace-event JSON (the "JSON Object Format")
 * that the Perfetto UI and chrome://tracing open.
 *
 * vCPU view: one process per VM, one thread (track) per vCPU, one complete
 * event ("ph":"X") per row, named after the state. pCPU view: one process
 * "Host CPUs", one track per pCPU, events named after the level and what
 * ran. `args` holds the row's other non-empty columns, exactly (integers
 * beyond 2^53 as strings).
 *
 * Timestamps are microseconds as JSON numbers, which readers parse as
 * doubles: absolute ns (~1.7e18) would lose the ns digits, so they are
 * written relative to an origin with 3 decimals, and the origin goes to
 * `otherData.origin_ns`. Rows are streamed: only the processes and tracks
 * already announced are remembered.
 */
#define VMT_LOG_TAG "VMTRACE/WRITER-CHROME"
#include "lib/log.h"

#include <inttypes.h>
#include <stdint.h>

#include <glib.h>

#include "lib/writer-internal.h"

/* One track: a vCPU of a VM, or a pCPU. The first three members are the key. */
struct chrome_track {
	int64_t pid;
	/* vCPU index or pCPU, -1 if unknown. */
	int64_t index;
	/* Splits tracks of unknown index per vCPU thread, so they never overlap; else -1. */
	int64_t host_tid;
	int64_t tid;
};

struct chrome_priv {
	/* Owned: process key (owned string) to pid (GINT_TO_POINTER). */
	GHashTable *pids;
	/* Owned: `struct chrome_track` (owned) to itself. */
	GHashTable *tracks;
	int pid_count;
	int64_t track_count;
	bool has_events;
	/* Rows that began before the origin, written from the origin. */
	uint64_t clamped_count;
	/* Owned: scratch space for event names, reused across rows. */
	GString *name;
};

static guint hash_track(gconstpointer key)
{
	const struct chrome_track *track = key;
	uint64_t mixed = (uint64_t) track->pid * 0x9e3779b97f4a7c15ULL ^
			 (uint64_t) track->index * 0xc2b2ae3d27d4eb4fULL ^
			 (uint64_t) track->host_tid;

	return (guint) (mixed ^ (mixed >> 32));
}

static gboolean equal_tracks(gconstpointer a, gconstpointer b)
{
	const struct chrome_track *left = a, *right = b;

	return left->pid == right->pid && left->index == right->index &&
	       left->host_tid == right->host_tid;
}

static void destroy_chrome_priv(void *data)
{
	struct chrome_priv *priv = data;

	g_hash_table_destroy(priv->pids);
	g_hash_table_destroy(priv->tracks);
	g_string_free(priv->name, TRUE);
	g_free(priv);
}

static void init_chrome(struct vmt_writer *writer)
{
	struct chrome_priv *priv = g_new0(struct chrome_priv, 1);

	priv->pids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	priv->tracks = g_hash_table_new_full(hash_track, equal_tracks, g_free, NULL);
	priv->name = g_string_new(NULL);
	writer->priv = priv;
	g_string_append(writer->buf, "{\"traceEvents\":[");
}

/* One event per line keeps the file diffable and `grep`-able. */
static void begin_event(struct vmt_writer *writer)
{
	struct chrome_priv *priv = writer->priv;

	g_string_append(writer->buf, priv->has_events ? ",\n{" : "\n{");
	priv->has_events = true;
}

/*
 * Metadata events carry `tid`, `ts` and the `__metadata` category like
 * Chrome's own traces, which every trace-event reader accepts.
 */
static void append_metadata(struct vmt_writer *writer, const char *name, int64_t pid, int64_t tid)
{
	GString *buf = writer->buf;

	begin_event(writer);
	g_string_append(buf, "\"ph\":\"M\",\"cat\":\"__metadata\",\"name\":\"");
	g_string_append(buf, name);
	g_string_append(buf, "\",\"pid\":");
	vmt_writer_append_i64(buf, pid);
	g_string_append(buf, ",\"tid\":");
	vmt_writer_append_i64(buf, tid);
	g_string_append(buf, ",\"ts\":0,\"args\":{");
}

static void append_name_metadata(struct vmt_writer *writer, const char *name, int64_t pid,
				 int64_t tid, const char *value)
{
	append_metadata(writer, name, pid, tid);
	g_string_append(writer->buf, "\"name\":");
	vmt_writer_append_json_string(writer->buf, value);
	g_string_append(writer->buf, "}}");
}

static void append_sort_metadata(struct vmt_writer *writer, const char *name, int64_t pid,
				 int64_t tid, int64_t sort_index)
{
	append_metadata(writer, name, pid, tid);
	g_string_append(writer->buf, "\"sort_index\":");
	vmt_writer_append_i64(writer->buf, sort_index);
	g_string_append(writer->buf, "}}");
}

/*
 * Returns the pid of the process `key` (a VM UUID, or "" for the host),
 * announcing it the first time as "`name` (`key`)", or whichever of the
 * two is not empty.
 */
static int64_t find_or_add_process(struct vmt_writer *writer, const char *key, const char *name)
{
	struct chrome_priv *priv = writer->priv;
	gpointer value;
	char *label;
	int pid;

	if (g_hash_table_lookup_extended(priv->pids, key, NULL, &value)) {
		return GPOINTER_TO_INT(value);
	}
	/* pid 0 is the kernel's swapper in the UIs' eyes: start at 1. */
	pid = ++priv->pid_count;
	g_hash_table_insert(priv->pids, g_strdup(key), GINT_TO_POINTER(pid));
	if (name && name[0] && key[0]) {
		label = g_strdup_printf("%s (%s)", name, key);
	} else {
		label = g_strdup(name && name[0] ? name : key[0] ? key : "?");
	}
	append_name_metadata(writer, "process_name", pid, 0, label);
	append_sort_metadata(writer, "process_sort_index", pid, 0, pid);
	g_free(label);
	return pid;
}

/*
 * Returns the tid of the track (`pid`, `index`), announcing it as
 * "`prefix` `index`" the first time. tids are unique over the whole file:
 * some readers key threads by tid alone.
 */
static int64_t find_or_add_track(struct vmt_writer *writer, int64_t pid, int64_t index,
				 int64_t host_tid, const char *prefix)
{
	struct chrome_priv *priv = writer->priv;
	struct chrome_track key = { pid, index, index < 0 ? host_tid : -1, 0 };
	struct chrome_track *track = g_hash_table_lookup(priv->tracks, &key);
	char *name;

	if (track) {
		return track->tid;
	}
	track = g_new(struct chrome_track, 1);
	*track = key;
	track->tid = ++priv->track_count;
	g_hash_table_add(priv->tracks, track);
	if (index >= 0) {
		name = g_strdup_printf("%s %" PRId64, prefix, index);
	} else {
		name = g_strdup_printf("%s ? (host tid %" PRId64 ")", prefix, host_tid);
	}
	append_name_metadata(writer, "thread_name", pid, track->tid, name);
	append_sort_metadata(writer, "thread_sort_index", pid, track->tid,
			     index >= 0 ? index : INT32_MAX);
	g_free(name);
	return track->tid;
}

/* Appends `ns` (>= 0) as microseconds with exactly 3 decimals. */
static void append_us(GString *buf, int64_t ns)
{
	char fraction[4] = { (char) ('0' + ns / 100 % 10), (char) ('0' + ns / 10 % 10),
			     (char) ('0' + ns % 10), '\0' };

	vmt_writer_append_i64(buf, ns / 1000);
	g_string_append_c(buf, '.');
	g_string_append(buf, fraction);
}

/* Appends `"ts":…,"dur":…` relative to the origin, clamping what precedes it. */
static void append_span(struct vmt_writer *writer, int64_t begin_ns, int64_t end_ns)
{
	struct chrome_priv *priv = writer->priv;
	int64_t ts_ns, end_rel_ns;

	if (!writer->has_origin) {
		vmt_writer_set_time_origin(writer, begin_ns);
	}
	ts_ns = begin_ns - writer->origin_ns;
	end_rel_ns = end_ns - writer->origin_ns;
	if (ts_ns < 0) {
		/* The Perfetto UI drops negative timestamps; `args` keeps the truth. */
		priv->clamped_count++;
		ts_ns = 0;
	}
	g_string_append(writer->buf, "\"ts\":");
	append_us(writer->buf, ts_ns);
	g_string_append(writer->buf, ",\"dur\":");
	append_us(writer->buf, end_rel_ns > ts_ns ? end_rel_ns - ts_ns : 0);
}

/* Where and when one complete event goes, and its name (borrowed). */
struct chrome_event {
	int64_t pid;
	int64_t tid;
	int64_t begin_ns;
	int64_t end_ns;
	const char *name;
};

/*
 * Beyond 2^53, JavaScript readers round integers: such values (the absolute
 * `begin_ns`, `end_ns`) go into `args` as strings, so that they stay exact.
 */
#define JSON_EXACT_INTEGER_MAX INT64_C(9007199254740992)

/* Appends `"args":{…}`: the non-empty fields but `skip` (the one the name shows). */
static void append_args(GString *buf, const struct vmt_writer_field *fields, size_t count,
			size_t skip)
{
	bool has_args = false;
	size_t i;

	g_string_append(buf, "\"args\":{");
	for (i = 0; i < count; i++) {
		if (i == skip || fields[i].is_empty) {
			continue;
		}
		g_string_append(buf, has_args ? ",\"" : "\"");
		g_string_append(buf, fields[i].name);
		g_string_append(buf, "\":");
		if (!fields[i].is_string && (fields[i].integer > JSON_EXACT_INTEGER_MAX ||
					     fields[i].integer < -JSON_EXACT_INTEGER_MAX)) {
			g_string_append_c(buf, '"');
			vmt_writer_append_i64(buf, fields[i].integer);
			g_string_append_c(buf, '"');
		} else {
			vmt_writer_append_json_field(buf, &fields[i]);
		}
		has_args = true;
	}
	g_string_append_c(buf, '}');
}

static void append_complete_event(struct vmt_writer *writer, const struct chrome_event *event,
				  const struct vmt_writer_field *fields, size_t count, size_t skip)
{
	GString *buf = writer->buf;

	begin_event(writer);
	g_string_append(buf, "\"ph\":\"X\",\"cat\":\"");
	g_string_append(buf, writer->view == VMT_WRITER_VIEW_VCPU ? "vcpu" : "pcpu");
	g_string_append(buf, "\",\"name\":");
	vmt_writer_append_json_string(buf, event->name);
	g_string_append(buf, ",\"pid\":");
	vmt_writer_append_i64(buf, event->pid);
	g_string_append(buf, ",\"tid\":");
	vmt_writer_append_i64(buf, event->tid);
	g_string_append_c(buf, ',');
	append_span(writer, event->begin_ns, event->end_ns);
	g_string_append_c(buf, ',');
	append_args(buf, fields, count, skip);
	g_string_append_c(buf, '}');
}

/* A VM's label: its name if known, else its UUID, else "?". */
static const char *vm_label(const char *vm_name, const char *vm_uuid)
{
	if (vm_name && vm_name[0]) {
		return vm_name;
	}
	return vm_uuid && vm_uuid[0] ? vm_uuid : "?";
}

static enum vmt_status write_chrome_vcpu_row(struct vmt_writer *writer,
					     const struct vmt_vcpu_row *row)
{
	struct vmt_writer_field fields[VMT_WRITER_VCPU_COLUMN_COUNT];
	const char *state_name = vmt_vcpu_state_name(row->state);
	struct chrome_event event;

	event.pid = find_or_add_process(writer, row->vm_uuid ? row->vm_uuid : "", row->vm_name);
	event.tid = find_or_add_track(writer, event.pid, row->vcpu, row->host_tid, "vCPU");
	event.begin_ns = row->begin_ns;
	event.end_ns = row->end_ns;
	event.name = state_name ? state_name : "?";
	vmt_writer_vcpu_fields(row, fields);
	/* Column 3 is `state`, already the event's name. */
	append_complete_event(writer, &event, fields, VMT_WRITER_VCPU_COLUMN_COUNT, 3);
	return VMT_STATUS_OK;
}

/*
 * Perfetto colours slices by name: naming them after what ran (the host
 * thread, or the VM and vCPU) tells VMs and threads apart at a glance.
 */
static void format_pcpu_event_name(GString *name, const struct vmt_pcpu_row *row)
{
	const char *level = vmt_pcpu_level_name(row->level);

	if (!level) {
		g_string_assign(name, "?");
	} else if (row->level == VMT_PCPU_LEVEL_HOST) {
		g_string_assign(name, level);
		if (row->host_comm && row->host_comm[0]) {
			g_string_append_printf(name, ": %s", row->host_comm);
		}
	} else {
		g_string_printf(name, "%s: %s", level, vm_label(row->vm_name, row->vm_uuid));
		if (row->vcpu >= 0) {
			g_string_append_printf(name, " vCPU %" PRId64, row->vcpu);
		}
	}
}

static enum vmt_status write_chrome_pcpu_row(struct vmt_writer *writer,
					     const struct vmt_pcpu_row *row)
{
	struct chrome_priv *priv = writer->priv;
	struct vmt_writer_field fields[VMT_WRITER_PCPU_COLUMN_COUNT];
	struct chrome_event event;

	format_pcpu_event_name(priv->name, row);
	event.pid = find_or_add_process(writer, "", "Host CPUs");
	event.tid = find_or_add_track(writer, event.pid, row->pcpu, -1, "CPU");
	event.begin_ns = row->begin_ns;
	event.end_ns = row->end_ns;
	event.name = priv->name->str;
	vmt_writer_pcpu_fields(row, fields);
	/* Column 4 is `level`, the start of the event's name. */
	append_complete_event(writer, &event, fields, VMT_WRITER_PCPU_COLUMN_COUNT, 4);
	return VMT_STATUS_OK;
}

/*
 * `origin_ns` is a string: JavaScript readers would round a JSON number of
 * that size. `otherData` is the trace-event format's place for metadata.
 */
static enum vmt_status finish_chrome(struct vmt_writer *writer)
{
	struct chrome_priv *priv = writer->priv;
	GString *buf = writer->buf;

	g_string_append(buf, "\n],\n\"displayTimeUnit\":\"ns\",\n\"otherData\":{");
	g_string_append(buf, "\"generator\":\"vmtrace sink.vmstate.intervals\",\"view\":\"");
	g_string_append(buf, writer->view == VMT_WRITER_VIEW_VCPU ? "vcpu" : "pcpu");
	g_string_append(buf, "\",\"origin_ns\":\"");
	vmt_writer_append_i64(buf, writer->has_origin ? writer->origin_ns : 0);
	g_string_append(buf, "\",\"clamped_events\":");
	vmt_writer_append_i64(buf, (int64_t) priv->clamped_count);
	g_string_append(buf, "}}\n");
	if (priv->clamped_count) {
		VMT_LOGW(writer->log,
			 "Some intervals begin before the Chrome trace's time origin: "
			 "written from the origin: count=%" PRIu64 ", origin-ns=%" PRId64,
			 priv->clamped_count, writer->origin_ns);
	}
	return VMT_STATUS_OK;
}

const struct vmt_writer_ops vmt_writer_chrome_ops = {
	.name = "chrome",
	.init = init_chrome,
	.write_vcpu_row = write_chrome_vcpu_row,
	.write_pcpu_row = write_chrome_pcpu_row,
	.finish = finish_chrome,
	.destroy_priv = destroy_chrome_priv,
};
