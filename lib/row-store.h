/* SPDX-License-Identifier: MIT */
/*
 * An append-only store of fixed-size records grouped by key, with bounded
 * memory: when the records held in memory pass a limit, they are written
 * to an anonymous temporary file. Reading a key gives its records in
 * append order. The sink keeps its intervals here until the end, where it
 * writes them in the SPEC's order; memory stays flat however long the trace.
 */
#ifndef VMTRACE_LIB_ROW_STORE_H
#define VMTRACE_LIB_ROW_STORE_H

#include "lib/log.h"

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "lib/status.h"

struct vmt_row_store;

/*
 * Creates a store of `record_size`-byte records that keeps at most
 * `memory_records` of them in memory. `log` is borrowed. Never NULL.
 */
struct vmt_row_store *vmt_row_store_create(size_t record_size, size_t memory_records,
					   const struct vmt_log_ctx *log);

/* Destroys `store` and its temporary file; NULL is allowed. */
void vmt_row_store_destroy(struct vmt_row_store *store);

/* Appends a copy of `record` under `key`. Fails (with a cause) only on I/O errors. */
enum vmt_status vmt_row_store_append(struct vmt_row_store *store, uint64_t key, const void *record);

/* Number of records appended under `key`. */
uint64_t vmt_row_store_count(const struct vmt_row_store *store, uint64_t key);

/* Returns a new array (uint64_t) of every key, in first-append order; caller frees. */
GArray *vmt_row_store_keys(const struct vmt_row_store *store);

/*
 * Calls `func` on every record of `key`, in append order. The record is
 * valid during the call only. Stops at the first non-OK status `func`
 * returns, and returns it.
 */
enum vmt_status vmt_row_store_foreach(struct vmt_row_store *store, uint64_t key,
				      enum vmt_status (*func)(const void *record, void *data),
				      void *data);

#endif /* VMTRACE_LIB_ROW_STORE_H */
