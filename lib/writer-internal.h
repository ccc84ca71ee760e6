/* SPDX-License-Identifier: MIT */
/*
 * What the writer formats share, private to `lib/writer*.c`: the writer
 * struct, the per-format vtable, the output buffer, and the helpers that
 * turn one row into its columns and its strings into valid UTF-8.
 *
 * A format only appends to `writer->buf`; `writer.c` moves the buffer to
 * the `FILE *` in large blocks and turns I/O failures into error causes, so
 * no format calls stdio itself.
 */
#ifndef VMTRACE_LIB_WRITER_INTERNAL_H
#define VMTRACE_LIB_WRITER_INTERNAL_H

#include "lib/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <glib.h>

#include "lib/common.h"
#include "lib/rows.h"
#include "lib/status.h"
#include "lib/writer.h"

/*
 * The buffer goes to the `FILE *` once it holds this much: large enough to
 * make the stdio call cost negligible per row, small enough to stay in cache.
 */
#define VMT_WRITER_FLUSH_SIZE (64 * 1024)

#define VMT_WRITER_VCPU_COLUMN_COUNT 16
#define VMT_WRITER_PCPU_COLUMN_COUNT 12

/* The UTF-8 encoding of U+FFFD, which replaces ill-formed input bytes. */
#define VMT_WRITER_REPLACEMENT_CHAR "\xef\xbf\xbd"

struct vmt_writer;

/* One format (or, for `text`, one format and view). */
struct vmt_writer_ops {
	/* The `format` parameter value, for messages. */
	const char *name;
	/* Allocates `writer->priv` and appends any prologue; may be NULL. */
	void (*init)(struct vmt_writer *writer);
	/* Appends or accumulates one row; NULL for a view the format does not serve. */
	enum vmt_status (*write_vcpu_row)(struct vmt_writer *writer,
					  const struct vmt_vcpu_row *row);
	enum vmt_status (*write_pcpu_row)(struct vmt_writer *writer,
					  const struct vmt_pcpu_row *row);
	/* Appends the epilogue or the report; may be NULL. */
	enum vmt_status (*finish)(struct vmt_writer *writer);
	/* Frees `writer->priv` (never NULL when called); may be NULL. */
	void (*destroy_priv)(void *priv);
};

struct vmt_writer {
	/* Weak: static. */
	const struct vmt_writer_ops *ops;
	enum vmt_writer_format format;
	enum vmt_writer_view view;
	/* Borrowed from the caller. */
	FILE *out;
	/* Borrowed from the caller. */
	const struct vmt_log_ctx *log;
	/* Owned: output not yet handed to `out`. */
	GString *buf;
	/* Owned through `ops->destroy_priv`. */
	void *priv;
	bool has_origin;
	int64_t origin_ns;
	enum vmt_writer_exit_isa exit_isa;
	/* Set by the first failure: later calls fail without writing. */
	bool has_failed;
	bool is_finished;
};

/* One column of one row, as `csv`, `jsonl` and `chrome` print it. */
struct vmt_writer_field {
	/* Weak: static column name. */
	const char *name;
	bool is_string;
	/* Empty CSV field, JSON null. */
	bool is_empty;
	/* Borrowed from the row; valid when `is_string` and not `is_empty`. */
	const char *string;
	int64_t integer;
};

/*
 * Appends one well-formed UTF-8 sequence (`length` bytes at `sequence`) to
 * `buf`, escaped by a format's rule.
 */
typedef void (*vmt_writer_escape_fn)(GString *buf, const unsigned char *sequence, int length);

extern const struct vmt_writer_ops vmt_writer_csv_ops VMT_HIDDEN;
extern const struct vmt_writer_ops vmt_writer_jsonl_ops VMT_HIDDEN;
extern const struct vmt_writer_ops vmt_writer_chrome_ops VMT_HIDDEN;
extern const struct vmt_writer_ops vmt_writer_text_vcpu_ops VMT_HIDDEN;
extern const struct vmt_writer_ops vmt_writer_text_pcpu_ops VMT_HIDDEN;

/*
 * Hands the buffer to `out` if it holds `VMT_WRITER_FLUSH_SIZE` bytes or
 * more. On an I/O failure, appends a cause, marks the writer failed and
 * returns ERROR.
 */
VMT_HIDDEN enum vmt_status vmt_writer_commit(struct vmt_writer *writer);

/* The column names of `view`, in SPEC §5 order; sets `*count`. */
VMT_HIDDEN const char *const *vmt_writer_column_names(enum vmt_writer_view view, size_t *count);

/*
 * Fills `fields` (`VMT_WRITER_VCPU_COLUMN_COUNT` of them) from `row`: -1
 * integers (except `pcpu`, which SPEC §5 writes as -1 while switched out)
 * and NULL or "" strings are empty; `duration_ns` is end - begin.
 */
VMT_HIDDEN void vmt_writer_vcpu_fields(const struct vmt_vcpu_row *row,
				       struct vmt_writer_field *fields);

/* Same for a pCPU row (`VMT_WRITER_PCPU_COLUMN_COUNT` fields). */
VMT_HIDDEN void vmt_writer_pcpu_fields(const struct vmt_pcpu_row *row,
				       struct vmt_writer_field *fields);

/* Room for any int64_t in decimal (sign and 19 digits), without a NUL. */
#define VMT_WRITER_I64_SIZE 20

/* Writes `value` in decimal at `dst` (VMT_WRITER_I64_SIZE bytes, no NUL); returns its length. */
VMT_HIDDEN size_t vmt_writer_format_i64(char *dst, int64_t value);

/* Appends `value` in decimal. */
VMT_HIDDEN void vmt_writer_append_i64(GString *buf, int64_t value);

/*
 * Returns the length (1 to 4) of the well-formed UTF-8 sequence at `s`, or
 * minus the length of its maximal ill-formed subpart (Unicode §3.9; the
 * practice of Python's and WHATWG's decoders), which stands for one U+FFFD.
 * `s` is NUL-terminated; NUL itself is a 1-byte sequence.
 */
VMT_HIDDEN int vmt_writer_utf8_sequence_length(const unsigned char *s);

/*
 * Appends the NUL-terminated `s` with each ill-formed UTF-8 subpart
 * replaced by U+FFFD and each well-formed sequence passed to `escape`
 * (copied when `escape` is NULL). Comms come from traces and are cut at 15 bytes, often
 * in the middle of a character: every output stays valid UTF-8.
 */
VMT_HIDDEN void vmt_writer_append_utf8(GString *buf, const char *s, vmt_writer_escape_fn escape);

/* Appends `s` (NULL = "") as a quoted, escaped JSON string. */
VMT_HIDDEN void vmt_writer_append_json_string(GString *buf, const char *s);

/* Appends `field` as a JSON value: integer, string or null. */
VMT_HIDDEN void vmt_writer_append_json_field(GString *buf, const struct vmt_writer_field *field);

#endif /* VMTRACE_LIB_WRITER_INTERNAL_H */
