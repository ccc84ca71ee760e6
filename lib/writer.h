/* SPDX-License-Identifier: MIT */
/*
 * Output writers of `sink.vmstate.intervals`: `text` (a report for
 * people), `csv` (RFC 4180 quoting, LF line ends), `jsonl` (one object per
 * row, keys = CSV columns, null for empty) and `chrome` (Chrome trace-event
 * JSON for the Perfetto UI and chrome://tracing).
 *
 * A writer receives the rows of one view in the SPEC §5 order (vCPU view:
 * by vm_uuid, vcpu, begin_ns; pCPU view: by pcpu, begin_ns) and writes to a
 * `FILE *` it borrows, buffering as it goes.
 */
#ifndef VMTRACE_LIB_WRITER_H
#define VMTRACE_LIB_WRITER_H

#include "lib/log.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/rows.h"
#include "lib/status.h"

enum vmt_writer_format {
	VMT_WRITER_FORMAT_TEXT,
	VMT_WRITER_FORMAT_CSV,
	VMT_WRITER_FORMAT_JSONL,
	VMT_WRITER_FORMAT_CHROME,
};

enum vmt_writer_view {
	VMT_WRITER_VIEW_VCPU,
	VMT_WRITER_VIEW_PCPU,
};

struct vmt_writer;

/*
 * Creates a writer of `format` for `view` onto `out` (borrowed; the caller
 * closes it after `vmt_writer_destroy()`). `log` is borrowed. Returns NULL
 * on memory exhaustion.
 */
struct vmt_writer *vmt_writer_create(enum vmt_writer_format format, enum vmt_writer_view view,
				     FILE *out, const struct vmt_log_ctx *log);

/* Writes or accumulates one row of the vCPU view. */
enum vmt_status vmt_writer_write_vcpu_row(struct vmt_writer *writer,
					  const struct vmt_vcpu_row *row);

/* Writes or accumulates one row of the pCPU view. */
enum vmt_status vmt_writer_write_pcpu_row(struct vmt_writer *writer,
					  const struct vmt_pcpu_row *row);

/*
 * Ends the output (the text report is written here, the Chrome JSON is
 * closed) and flushes. An I/O failure appends a cause and returns ERROR.
 */
enum vmt_status vmt_writer_finish(struct vmt_writer *writer);

/* Destroys `writer` (NULL allowed) without writing anything more. */
void vmt_writer_destroy(struct vmt_writer *writer);

/* Parses a `format` parameter value; returns false for an unknown name. */
bool vmt_writer_parse_format(const char *name, enum vmt_writer_format *format);

/* The `format` parameter value of `format` ("text", "csv", ...). */
const char *vmt_writer_format_name(enum vmt_writer_format format);

/*
 * Sets the time origin (ns from the clock origin) of the output, before the
 * first row. `chrome` writes timestamps relative to it, and the `text`
 * report measures begin times from it; `csv` and `jsonl` ignore it. Without
 * it, `chrome` uses the first row's `begin_ns` and `text` the earliest one.
 *
 * The Perfetto UI rejects negative timestamps, and rows come ordered by VM
 * (or pCPU), not by time: a later row may begin before the first one. Pass
 * a time at or before every row's begin (e.g. the host trace's first
 * event); `chrome` clamps earlier rows to the origin and logs a warning.
 */
void vmt_writer_set_time_origin(struct vmt_writer *writer, int64_t origin_ns);

/* How the `text` report names exit reasons (SPEC §4, lttng-kvm-events §3.6). */
enum vmt_writer_exit_isa {
	/* SVM if any exit reason is 0x60 or more (no VMX reason is), else VMX. */
	VMT_WRITER_EXIT_ISA_AUTO,
	/* Intel VMX basic exit reasons (low 16 bits). */
	VMT_WRITER_EXIT_ISA_VMX,
	/* AMD SVM exit codes. */
	VMT_WRITER_EXIT_ISA_SVM,
};

/* Sets the exit reason naming of the `text` report; other formats ignore it. */
void vmt_writer_set_exit_isa(struct vmt_writer *writer, enum vmt_writer_exit_isa isa);

#endif /* VMTRACE_LIB_WRITER_H */
