/* SPDX-License-Identifier: MIT */
/*
 * The `csv` writer: a header row, then one row per interval (RFC 4180
 * quoting, LF line ends, empty fields for empty values).
 */
#define VMT_LOG_TAG "VMTRACE/WRITER-CSV"
#include "lib/log.h"

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

static void append_csv_fields(GString *buf, const struct vmt_writer_field *fields, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (i > 0) {
			g_string_append_c(buf, ',');
		}
		if (fields[i].is_empty) {
			continue;
		}
		if (fields[i].is_string) {
			append_csv_string(buf, fields[i].string);
		} else {
			vmt_writer_append_i64(buf, fields[i].integer);
		}
	}
	/*
	 * LF rather than RFC 4180's CRLF: the usual Unix tools and every CSV
	 * reader we know of accept it, and `grep`/`cut` users expect it.
	 */
	g_string_append_c(buf, '\n');
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
