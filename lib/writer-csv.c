/* SPDX-License-Identifier: MIT */
/*
 * The `csv` writer: a header row, then one row per interval (RFC 4180
 * quoting, LF line ends, empty fields for empty values).
 */
#define VMT_LOG_TAG "VMTRACE/WRITER-CSV"
#include "lib/log.h"

#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "lib/writer-internal.h"

/* Doubles quotes inside a quoted field (RFC 4180 §2.7). */
static void escape_csv(GString *buf, const unsigned char *sequence, int length)
{
	if (length == 1 && sequence[0] == '"') {
		g_string_append_c(buf, '"');
	}
	g_string_append_len(buf, (const char *) sequence, length);
}

/*
 * Thread names hold commas, quotes and even newlines: those fields are
 * quoted (RFC 4180 §2.6); the others are written as they are, so ordinary
 * rows stay easy to read and to grep.
 */
static void append_csv_string(GString *buf, const char *s)
{
	if (strpbrk(s, ",\"\r\n")) {
		g_string_append_c(buf, '"');
		vmt_writer_append_utf8(buf, s, escape_csv);
		g_string_append_c(buf, '"');
	} else {
		vmt_writer_append_utf8(buf, s, NULL);
	}
}

/*
 * A row is assembled here and appended to the output buffer once: millions
 * of rows make per-character appends to a GString the writer's main cost.
 */
struct row_buffer {
	char data[1024];
	size_t len;
	GString *out; /* Weak: the writer's buffer. */
};

static void flush_row(struct row_buffer *row)
{
	g_string_append_len(row->out, row->data, (gssize) row->len);
	row->len = 0;
}

static void reserve(struct row_buffer *row, size_t size)
{
	if (row->len + size > sizeof(row->data)) {
		flush_row(row);
	}
}

/* Length of `s` if it is printable ASCII needing no quotes, else SIZE_MAX. */
static size_t plain_length(const char *s)
{
	size_t len;

	for (len = 0; s[len]; len++) {
		unsigned char c = (unsigned char) s[len];

		if (c < 0x20 || c >= 0x7f || c == '"' || c == ',') {
			return SIZE_MAX;
		}
	}
	return len;
}

static void add_string(struct row_buffer *row, const char *s)
{
	size_t len = plain_length(s);

	if (len > sizeof(row->data) / 2) {
		/* Quoting, escapes or UTF-8 repair: the general path. */
		flush_row(row);
		append_csv_string(row->out, s);
		return;
	}
	reserve(row, len);
	memcpy(row->data + row->len, s, len);
	row->len += len;
}

static void append_csv_fields(GString *buf, const struct vmt_writer_field *fields, size_t count)
{
	struct row_buffer row = { .len = 0, .out = buf };
	size_t i;

	for (i = 0; i < count; i++) {
		reserve(&row, 1 + VMT_WRITER_I64_SIZE);
		if (i > 0) {
			row.data[row.len++] = ',';
		}
		if (fields[i].is_empty) {
			continue;
		}
		if (fields[i].is_string) {
			add_string(&row, fields[i].string);
		} else {
			row.len += vmt_writer_format_i64(row.data + row.len, fields[i].integer);
		}
	}
	/*
	 * LF rather than RFC 4180's CRLF: the usual Unix tools and every CSV
	 * reader we know of accept it, and `grep`/`cut` users expect it.
	 */
	reserve(&row, 1);
	row.data[row.len++] = '\n';
	flush_row(&row);
}

static void init_csv(struct vmt_writer *writer)
{
	size_t count, i;
	const char *const *names = vmt_writer_column_names(writer->view, &count);

	for (i = 0; i < count; i++) {
		if (i > 0) {
			g_string_append_c(writer->buf, ',');
		}
		g_string_append(writer->buf, names[i]);
	}
	g_string_append_c(writer->buf, '\n');
}

static enum vmt_status write_csv_vcpu_row(struct vmt_writer *writer, const struct vmt_vcpu_row *row)
{
	struct vmt_writer_field fields[VMT_WRITER_VCPU_COLUMN_COUNT];

	vmt_writer_vcpu_fields(row, fields);
	append_csv_fields(writer->buf, fields, VMT_WRITER_VCPU_COLUMN_COUNT);
	return VMT_STATUS_OK;
}

static enum vmt_status write_csv_pcpu_row(struct vmt_writer *writer, const struct vmt_pcpu_row *row)
{
	struct vmt_writer_field fields[VMT_WRITER_PCPU_COLUMN_COUNT];

	vmt_writer_pcpu_fields(row, fields);
	append_csv_fields(writer->buf, fields, VMT_WRITER_PCPU_COLUMN_COUNT);
	return VMT_STATUS_OK;
}

const struct vmt_writer_ops vmt_writer_csv_ops = {
	.name = "csv",
	.init = init_csv,
	.write_vcpu_row = write_csv_vcpu_row,
	.write_pcpu_row = write_csv_pcpu_row,
	.finish = NULL,
	.destroy_priv = NULL,
};
