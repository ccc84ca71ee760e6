/* SPDX-License-Identifier: MIT */
/*
 * The `jsonl` writer: one JSON object per line and interval, keys = the CSV
 * columns in order, integers as JSON integers, null for empty values.
 */
#define VMT_LOG_TAG "VMTRACE/WRITER-JSONL"
#include "lib/log.h"

#include <glib.h>

#include "lib/writer-internal.h"

/*
 * Compact (no spaces): these files reach millions of lines. Integers are
 * written exactly; readers that parse numbers as doubles (JavaScript, jq
 * 1.6) round the ~1.7e18 ns timestamps, which `duration_ns` sidesteps.
 */
static void append_jsonl_object(GString *buf, const struct vmt_writer_field *fields, size_t count)
{
	size_t i;

	g_string_append_c(buf, '{');
	for (i = 0; i < count; i++) {
		if (i > 0) {
			g_string_append_c(buf, ',');
		}
		g_string_append_c(buf, '"');
		g_string_append(buf, fields[i].name);
		g_string_append(buf, "\":");
		vmt_writer_append_json_field(buf, &fields[i]);
	}
	g_string_append(buf, "}\n");
}

static enum vmt_status write_jsonl_vcpu_row(struct vmt_writer *writer,
					    const struct vmt_vcpu_row *row)
{
	struct vmt_writer_field fields[VMT_WRITER_VCPU_COLUMN_COUNT];

	vmt_writer_vcpu_fields(row, fields);
	append_jsonl_object(writer->buf, fields, VMT_WRITER_VCPU_COLUMN_COUNT);
	return VMT_STATUS_OK;
}

static enum vmt_status write_jsonl_pcpu_row(struct vmt_writer *writer,
					    const struct vmt_pcpu_row *row)
{
	struct vmt_writer_field fields[VMT_WRITER_PCPU_COLUMN_COUNT];

	vmt_writer_pcpu_fields(row, fields);
	append_jsonl_object(writer->buf, fields, VMT_WRITER_PCPU_COLUMN_COUNT);
	return VMT_STATUS_OK;
}

const struct vmt_writer_ops vmt_writer_jsonl_ops = {
	.name = "jsonl",
	.init = NULL,
	.write_vcpu_row = write_jsonl_vcpu_row,
	.write_pcpu_row = write_jsonl_pcpu_row,
	.finish = NULL,
	.destroy_priv = NULL,
};
