/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the `text` report, private to `lib/writer-text*.c`: aligned
 * tables, human durations and shares, display-safe strings and exit reason
 * names.
 */
#ifndef VMTRACE_LIB_WRITER_TEXT_H
#define VMTRACE_LIB_WRITER_TEXT_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "lib/common.h"
#include "lib/rows.h"

/* Rows of the "top preemptors" and "top host threads" tables. */
#define VMT_TEXT_TOP_COUNT 5

/* Rows of the "longest preemptions" table. */
#define VMT_TEXT_LONGEST_COUNT 10

/*
 * A table whose columns are padded to their widest cell. The first row is
 * the header. Cells are valid UTF-8 (see `vmt_text_sanitize()`).
 */
struct vmt_text_table {
	/* Weak: static; one 'l' (left) or 'r' (right) per column. */
	const char *alignment;
	guint column_count;
	/* Owned: the cells (owned strings), row after row. */
	GPtrArray *cells;
};

VMT_HIDDEN void vmt_text_table_init(struct vmt_text_table *table, const char *alignment);

VMT_HIDDEN void vmt_text_table_fini(struct vmt_text_table *table);

/* Appends one cell (taking ownership of `cell`); rows wrap every column_count cells. */
VMT_HIDDEN void vmt_text_table_add(struct vmt_text_table *table, char *cell);

/* Appends one cell formatted like printf. */
VMT_HIDDEN void vmt_text_table_add_printf(struct vmt_text_table *table, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Appends the table to `buf`, each line prefixed by `indent`. */
VMT_HIDDEN void vmt_text_table_write(const struct vmt_text_table *table, GString *buf,
				     const char *indent);

/* The values of `table` (borrowed) in a new array, sorted by `compare`. */
VMT_HIDDEN GPtrArray *vmt_text_sorted_values(GHashTable *table, GCompareFunc compare);

/*
 * Returns `ns` in the largest unit (ns, µs, ms, s) that keeps it at 1 or
 * more, truncated to 3 decimals ("999 ns", "1.500 µs", "12.000 ms").
 * The caller frees the result.
 */
VMT_HIDDEN char *vmt_text_duration(int64_t ns);

/* Returns `part / total` as a percentage with 2 decimals ("12.34%"); "-" if total is 0. */
VMT_HIDDEN char *vmt_text_share(uint64_t part, uint64_t total);

/*
 * Returns a copy of `s` (NULL = "") fit for a terminal: ill-formed UTF-8
 * replaced by U+FFFD and control characters escaped ("\n", "\x01"), so a
 * hostile thread name cannot break the layout.
 */
VMT_HIDDEN char *vmt_text_sanitize(const char *s);

/* A VM's display label: its name if not empty, else its UUID, sanitized. */
VMT_HIDDEN char *vmt_text_vm_label(const char *vm_name, const char *vm_uuid);

/* Returns "`tid` `comm`" (either may be missing: -1, NULL), sanitized. */
VMT_HIDDEN char *vmt_text_thread_label(int64_t tid, const char *comm);

/* Returns `index` in decimal, or "?" when negative (unknown). */
VMT_HIDDEN char *vmt_text_index_label(int64_t index);

/*
 * Returns "web1 vCPU 1" for a thread that is vCPU `vcpu` of the VM
 * `vm_uuid` (NULL if none), naming the VM from `vm_names` (VM UUID to VM
 * name, borrowed strings) when it is there; "" when the thread is no vCPU.
 */
VMT_HIDDEN char *vmt_text_vcpu_label(GHashTable *vm_names, const char *vm_uuid, int64_t vcpu);

/*
 * Returns the kernel's name of exit reason `reason` (the names `perf kvm
 * stat` prints: "HLT" for VMX, "hlt" for SVM), "reason N" for an unnamed
 * one and "unknown" for -1. The caller frees the result.
 */
VMT_HIDDEN char *vmt_text_exit_reason_label(int64_t reason, bool is_svm);

/* The longest preemptions of a report (a sorted array of at most N). */
struct vmt_text_longest;

VMT_HIDDEN struct vmt_text_longest *vmt_text_longest_create(void);

VMT_HIDDEN void vmt_text_longest_destroy(struct vmt_text_longest *longest);

/* Keeps the `preempted` row `row` if it is among the N longest so far. */
VMT_HIDDEN void vmt_text_longest_offer(struct vmt_text_longest *longest,
				       const struct vmt_vcpu_row *row, int64_t duration_ns);

/*
 * Appends the "Longest preemptions" table to `buf` (nothing if there was no
 * preemption), with begin times also relative to `origin_ns` and VM names
 * from `vm_names` (see `vmt_text_vcpu_label()`).
 */
VMT_HIDDEN void vmt_text_longest_write(const struct vmt_text_longest *longest, GString *buf,
				       int64_t origin_ns, GHashTable *vm_names);

/* The smallest SVM exit code no VMX basic exit reason reaches (SVM_EXIT_INTR). */
#define VMT_TEXT_SVM_THRESHOLD 0x60

#endif /* VMTRACE_LIB_WRITER_TEXT_H */
