/* SPDX-License-Identifier: MIT */
/*
 * Writer dispatch and output buffering, plus what the formats share: the
 * column tables, integer formatting, UTF-8 repair and JSON strings.
 */
#define VMT_LOG_TAG "VMTRACE/WRITER"
#include "lib/log.h"

#include <errno.h>
#include <string.h>

#include <glib.h>

#include "lib/writer-internal.h"

/* SPEC §5, in order. */
static const char *const vcpu_columns[VMT_WRITER_VCPU_COLUMN_COUNT] = {
	"vm_uuid",	   "vm_name",		"vcpu",
	"state",	   "begin_ns",		"end_ns",
	"duration_ns",	   "host_tid",		"pcpu",
	"exit_reason",	   "preempted_by_tid",	"preempted_by_comm",
	"preempted_by_vm", "preempted_by_vcpu", "guest_tid",
	"guest_comm",
};

/* Issue 8, in order. */
static const char *const pcpu_columns[VMT_WRITER_PCPU_COLUMN_COUNT] = {
	"pcpu",	     "begin_ns", "end_ns",  "duration_ns", "level",	"host_tid",
	"host_comm", "vm_uuid",	 "vm_name", "vcpu",	   "guest_tid", "guest_comm",
};

static const char *const format_names[] = {
	[VMT_WRITER_FORMAT_TEXT] = "text",
	[VMT_WRITER_FORMAT_CSV] = "csv",
	[VMT_WRITER_FORMAT_JSONL] = "jsonl",
	[VMT_WRITER_FORMAT_CHROME] = "chrome",
};

static const struct vmt_writer_ops *find_ops(enum vmt_writer_format format,
					     enum vmt_writer_view view)
{
	switch (format) {
	case VMT_WRITER_FORMAT_TEXT:
		return view == VMT_WRITER_VIEW_VCPU ? &vmt_writer_text_vcpu_ops :
						      &vmt_writer_text_pcpu_ops;
	case VMT_WRITER_FORMAT_CSV:
		return &vmt_writer_csv_ops;
	case VMT_WRITER_FORMAT_JSONL:
		return &vmt_writer_jsonl_ops;
	case VMT_WRITER_FORMAT_CHROME:
		return &vmt_writer_chrome_ops;
	}
	return NULL;
}

struct vmt_writer *vmt_writer_create(enum vmt_writer_format format, enum vmt_writer_view view,
				     FILE *out, const struct vmt_log_ctx *log)
{
	const struct vmt_writer_ops *ops = find_ops(format, view);
	struct vmt_writer *writer;

	VMT_ASSERT(ops);
	VMT_ASSERT(view == VMT_WRITER_VIEW_VCPU || view == VMT_WRITER_VIEW_PCPU);
	VMT_ASSERT(out && log);
	/* GLib aborts on exhaustion, so this never returns NULL in practice. */
	writer = g_new0(struct vmt_writer, 1);
	writer->ops = ops;
	writer->format = format;
	writer->view = view;
	writer->out = out;
	writer->log = log;
	writer->buf = g_string_sized_new(VMT_WRITER_FLUSH_SIZE + 4096);
	writer->exit_isa = VMT_WRITER_EXIT_ISA_AUTO;
	if (ops->init) {
		ops->init(writer);
	}
	return writer;
}

void vmt_writer_destroy(struct vmt_writer *writer)
{
	if (!writer) {
		return;
	}
	if (writer->priv && writer->ops->destroy_priv) {
		writer->ops->destroy_priv(writer->priv);
	}
	g_string_free(writer->buf, TRUE);
	g_free(writer);
}

bool vmt_writer_parse_format(const char *name, enum vmt_writer_format *format)
{
	size_t i;

	if (!name) {
		return false;
	}
	for (i = 0; i < VMT_ARRAY_SIZE(format_names); i++) {
		if (strcmp(name, format_names[i]) == 0) {
			*format = (enum vmt_writer_format) i;
			return true;
		}
	}
	return false;
}

const char *vmt_writer_format_name(enum vmt_writer_format format)
{
	if ((unsigned int) format >= VMT_ARRAY_SIZE(format_names)) {
		return NULL;
	}
	return format_names[format];
}

void vmt_writer_set_time_origin(struct vmt_writer *writer, int64_t origin_ns)
{
	writer->has_origin = true;
	writer->origin_ns = origin_ns;
}

void vmt_writer_set_exit_isa(struct vmt_writer *writer, enum vmt_writer_exit_isa isa)
{
	writer->exit_isa = isa;
}

/* Marks the writer failed after an I/O error and appends the cause. */
static enum vmt_status fail_io(struct vmt_writer *writer, const char *action, int error)
{
	writer->has_failed = true;
	VMT_LOGE_APPEND_CAUSE(writer->log, "Cannot %s output: format=\"%s\", error=\"%s\"", action,
			      writer->ops->name, error ? g_strerror(error) : "I/O error");
	return VMT_STATUS_ERROR;
}

/*
 * Every ERROR carries a cause, even when the first failure's cause was
 * already taken by the caller.
 */
static enum vmt_status fail_again(struct vmt_writer *writer)
{
	VMT_LOGE_APPEND_CAUSE(writer->log,
			      "Cannot write output: the writer failed before: format=\"%s\"",
			      writer->ops->name);
	return VMT_STATUS_ERROR;
}

static enum vmt_status write_buffer(struct vmt_writer *writer)
{
	size_t written;

	if (writer->buf->len == 0) {
		return VMT_STATUS_OK;
	}
	errno = 0;
	written = fwrite(writer->buf->str, 1, writer->buf->len, writer->out);
	if (written != writer->buf->len) {
		return fail_io(writer, "write", errno);
	}
	g_string_truncate(writer->buf, 0);
	return VMT_STATUS_OK;
}

enum vmt_status vmt_writer_commit(struct vmt_writer *writer)
{
	if (writer->buf->len < VMT_WRITER_FLUSH_SIZE) {
		return VMT_STATUS_OK;
	}
	return write_buffer(writer);
}

/* Common tail of the two write calls: a failing format poisons the writer. */
static enum vmt_status end_write(struct vmt_writer *writer, enum vmt_status status)
{
	if (status != VMT_STATUS_OK) {
		writer->has_failed = true;
		return status;
	}
	return vmt_writer_commit(writer);
}

enum vmt_status vmt_writer_write_vcpu_row(struct vmt_writer *writer, const struct vmt_vcpu_row *row)
{
	/* Always on: the `text` writers have no slot for the other view's rows. */
	VMT_ASSERT(writer->view == VMT_WRITER_VIEW_VCPU && !writer->is_finished);
	if (writer->has_failed) {
		return fail_again(writer);
	}
	return end_write(writer, writer->ops->write_vcpu_row(writer, row));
}

enum vmt_status vmt_writer_write_pcpu_row(struct vmt_writer *writer, const struct vmt_pcpu_row *row)
{
	/* Always on: the `text` writers have no slot for the other view's rows. */
	VMT_ASSERT(writer->view == VMT_WRITER_VIEW_PCPU && !writer->is_finished);
	if (writer->has_failed) {
		return fail_again(writer);
	}
	return end_write(writer, writer->ops->write_pcpu_row(writer, row));
}

enum vmt_status vmt_writer_finish(struct vmt_writer *writer)
{
	enum vmt_status status = VMT_STATUS_OK;

	VMT_ASSERT(!writer->is_finished);
	writer->is_finished = true;
	if (writer->has_failed) {
		return fail_again(writer);
	}
	if (writer->ops->finish) {
		status = writer->ops->finish(writer);
	}
	if (status != VMT_STATUS_OK) {
		writer->has_failed = true;
		goto end;
	}
	status = write_buffer(writer);
	if (status != VMT_STATUS_OK) {
		goto end;
	}
	/* A full disk often shows only here, when stdio writes its last block. */
	errno = 0;
	if (fflush(writer->out) != 0 || ferror(writer->out)) {
		status = fail_io(writer, "flush", errno);
	}
end:
	return status;
}

const char *const *vmt_writer_column_names(enum vmt_writer_view view, size_t *count)
{
	if (view == VMT_WRITER_VIEW_VCPU) {
		*count = VMT_ARRAY_SIZE(vcpu_columns);
		return vcpu_columns;
	}
	*count = VMT_ARRAY_SIZE(pcpu_columns);
	return pcpu_columns;
}

static void set_string(struct vmt_writer_field *field, const char *value)
{
	field->is_string = true;
	field->is_empty = !value || value[0] == '\0';
	field->string = value;
	field->integer = 0;
}

static void set_integer(struct vmt_writer_field *field, int64_t value, bool is_optional)
{
	field->is_string = false;
	field->is_empty = is_optional && value < 0;
	field->string = NULL;
	field->integer = value;
}

void vmt_writer_vcpu_fields(const struct vmt_vcpu_row *row, struct vmt_writer_field *fields)
{
	size_t i;

	set_string(&fields[0], row->vm_uuid);
	set_string(&fields[1], row->vm_name);
	/* An unknown index is a value of the vCPU (semantics.md §2), not an empty field. */
	set_integer(&fields[2], row->vcpu, false);
	set_string(&fields[3], vmt_vcpu_state_name(row->state));
	set_integer(&fields[4], row->begin_ns, false);
	set_integer(&fields[5], row->end_ns, false);
	set_integer(&fields[6], row->end_ns - row->begin_ns, false);
	set_integer(&fields[7], row->host_tid, true);
	/* SPEC §5: "-1 while switched out" is a value, not an empty field. */
	set_integer(&fields[8], row->pcpu, false);
	set_integer(&fields[9], row->exit_reason, true);
	set_integer(&fields[10], row->preempted_by_tid, true);
	set_string(&fields[11], row->preempted_by_comm);
	set_string(&fields[12], row->preempted_by_vm);
	/* Empty when the preemptor is no vCPU thread; -1 for one of unknown index. */
	set_integer(&fields[13], row->preempted_by_vcpu,
		    !row->preempted_by_vm || !row->preempted_by_vm[0]);
	set_integer(&fields[14], row->guest_tid, true);
	set_string(&fields[15], row->guest_comm);
	for (i = 0; i < VMT_WRITER_VCPU_COLUMN_COUNT; i++) {
		fields[i].name = vcpu_columns[i];
	}
}

void vmt_writer_pcpu_fields(const struct vmt_pcpu_row *row, struct vmt_writer_field *fields)
{
	size_t i;

	set_integer(&fields[0], row->pcpu, false);
	set_integer(&fields[1], row->begin_ns, false);
	set_integer(&fields[2], row->end_ns, false);
	set_integer(&fields[3], row->end_ns - row->begin_ns, false);
	set_string(&fields[4], vmt_pcpu_level_name(row->level));
	set_integer(&fields[5], row->host_tid, true);
	set_string(&fields[6], row->host_comm);
	set_string(&fields[7], row->vm_uuid);
	set_string(&fields[8], row->vm_name);
	/* Empty on host rows; -1 for a vCPU thread of unknown index. */
	set_integer(&fields[9], row->vcpu, !row->vm_uuid || !row->vm_uuid[0]);
	set_integer(&fields[10], row->guest_tid, true);
	set_string(&fields[11], row->guest_comm);
	for (i = 0; i < VMT_WRITER_PCPU_COLUMN_COUNT; i++) {
		fields[i].name = pcpu_columns[i];
	}
}

size_t vmt_writer_format_i64(char *dst, int64_t value)
{
	/* Two digits per division: timestamps have 19 digits, and there are millions. */
	static const char pairs[] = "00010203040506070809101112131415161718192021222324"
				    "25262728293031323334353637383940414243444546474849"
				    "50515253545556575859606162636465666768697071727374"
				    "75767778798081828384858687888990919293949596979899";
	char digits[VMT_WRITER_I64_SIZE];
	size_t pos = sizeof(digits);
	/* Unsigned negation keeps INT64_MIN exact. */
	uint64_t magnitude = value < 0 ? -(uint64_t) value : (uint64_t) value;

	while (magnitude >= 100) {
		unsigned int pair = (unsigned int) (magnitude % 100) * 2;

		magnitude /= 100;
		digits[--pos] = pairs[pair + 1];
		digits[--pos] = pairs[pair];
	}
	if (magnitude >= 10) {
		digits[--pos] = pairs[magnitude * 2 + 1];
		digits[--pos] = pairs[magnitude * 2];
	} else {
		digits[--pos] = (char) ('0' + magnitude);
	}
	if (value < 0) {
		digits[--pos] = '-';
	}
	memcpy(dst, digits + pos, sizeof(digits) - pos);
	return sizeof(digits) - pos;
}

void vmt_writer_append_i64(GString *buf, int64_t value)
{
	char digits[VMT_WRITER_I64_SIZE];

	g_string_append_len(buf, digits, (gssize) vmt_writer_format_i64(digits, value));
}

int vmt_writer_utf8_sequence_length(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	int trail_count, i;

	if (s[0] < 0x80) {
		return 1;
	}
	/* Unicode Table 3-7: the second byte's range depends on the lead. */
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		trail_count = 1;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		trail_count = 2;
		lo = s[0] == 0xe0 ? 0xa0 : 0x80;
		hi = s[0] == 0xed ? 0x9f : 0xbf;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		trail_count = 3;
		lo = s[0] == 0xf0 ? 0x90 : 0x80;
		hi = s[0] == 0xf4 ? 0x8f : 0xbf;
	} else {
		return -1;
	}
	for (i = 1; i <= trail_count; i++) {
		/* A NUL terminator fails here too, so we never read past it. */
		if (s[i] < lo || s[i] > hi) {
			return -i;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return trail_count + 1;
}

/* Printable ASCII that no format escapes: copied in runs, without the callback. */
static bool is_plain_ascii(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

void vmt_writer_append_utf8(GString *buf, const char *s, vmt_writer_escape_fn escape)
{
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *run;
	int length;

	while (*p) {
		run = p;
		while (is_plain_ascii(*p)) {
			p++;
		}
		if (p > run) {
			g_string_append_len(buf, (const char *) run, p - run);
			continue;
		}
		length = vmt_writer_utf8_sequence_length(p);
		if (length > 0 && escape) {
			escape(buf, p, length);
		} else if (length > 0) {
			g_string_append_len(buf, (const char *) p, length);
		} else {
			g_string_append(buf, VMT_WRITER_REPLACEMENT_CHAR);
			length = -length;
		}
		p += length;
	}
}

/* Non-ASCII characters stay raw: JSON text is UTF-8 (RFC 8259 §8.1). */
static void escape_json(GString *buf, const unsigned char *sequence, int length)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c = sequence[0];

	if (length > 1) {
		g_string_append_len(buf, (const char *) sequence, length);
		return;
	}
	switch (c) {
	case '"':
		g_string_append(buf, "\\\"");
		break;
	case '\\':
		g_string_append(buf, "\\\\");
		break;
	case '\n':
		g_string_append(buf, "\\n");
		break;
	case '\r':
		g_string_append(buf, "\\r");
		break;
	case '\t':
		g_string_append(buf, "\\t");
		break;
	default:
		/* RFC 8259 requires escaping below 0x20; DEL is escaped for terminals. */
		if (c < 0x20 || c == 0x7f) {
			g_string_append(buf, "\\u00");
			g_string_append_c(buf, hex[c >> 4]);
			g_string_append_c(buf, hex[c & 0xf]);
		} else {
			g_string_append_c(buf, (char) c);
		}
		break;
	}
}

void vmt_writer_append_json_string(GString *buf, const char *s)
{
	g_string_append_c(buf, '"');
	if (s) {
		vmt_writer_append_utf8(buf, s, escape_json);
	}
	g_string_append_c(buf, '"');
}

void vmt_writer_append_json_field(GString *buf, const struct vmt_writer_field *field)
{
	if (field->is_empty) {
		g_string_append(buf, "null");
	} else if (field->is_string) {
		vmt_writer_append_json_string(buf, field->string);
	} else {
		vmt_writer_append_i64(buf, field->integer);
	}
}
