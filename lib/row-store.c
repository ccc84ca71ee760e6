/* SPDX-License-Identifier: MIT */
#define VMT_LOG_TAG "VMTRACE/ROW-STORE"
#include "lib/row-store.h"

#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

/* Records read back from the temporary file at a time. */
#define READ_BLOCK_RECORDS 1024

/* A run of one key's records written to the temporary file. */
struct chunk {
	long offset;
	uint64_t count;
};

struct key_records {
	uint64_t key;
	uint64_t count;
	GArray *chunks; /* Owned: struct chunk, in file order. */
	GArray *memory; /* Owned: records not written yet. */
};

struct vmt_row_store {
	size_t record_size;
	size_t memory_limit;
	size_t memory_count;
	GHashTable *by_key; /* Owned: uint64 key (inside the value) -> struct key_records. */
	GPtrArray *order; /* Owned array of weak key_records, first-append order. */
	FILE *spill; /* Owned; NULL until the first spill. */
	/* A spill failed (cause appended once): every later append fails quietly. */
	bool has_failed;
	const struct vmt_log_ctx *log; /* Weak. */
};

static void destroy_key_records(gpointer data)
{
	struct key_records *records = data;

	g_array_free(records->chunks, TRUE);
	g_array_free(records->memory, TRUE);
	g_free(records);
}

struct vmt_row_store *vmt_row_store_create(size_t record_size, size_t memory_records,
					   const struct vmt_log_ctx *log)
{
	struct vmt_row_store *store = g_new0(struct vmt_row_store, 1);

	store->record_size = record_size;
	store->memory_limit = memory_records ? memory_records : 1;
	store->by_key =
		g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, destroy_key_records);
	store->order = g_ptr_array_new();
	store->log = log;
	return store;
}

void vmt_row_store_destroy(struct vmt_row_store *store)
{
	if (!store) {
		return;
	}
	g_ptr_array_free(store->order, TRUE);
	g_hash_table_destroy(store->by_key);
	if (store->spill) {
		fclose(store->spill);
	}
	g_free(store);
}

static enum vmt_status spill_key(struct vmt_row_store *store, struct key_records *records)
{
	struct chunk chunk;

	if (records->memory->len == 0) {
		return VMT_STATUS_OK;
	}
	if (fseek(store->spill, 0, SEEK_END) != 0) {
		goto io_error;
	}
	chunk.offset = ftell(store->spill);
	chunk.count = records->memory->len;
	if (chunk.offset < 0 || fwrite(records->memory->data, store->record_size, chunk.count,
				       store->spill) != chunk.count) {
		goto io_error;
	}
	g_array_append_val(records->chunks, chunk);
	store->memory_count -= records->memory->len;
	g_array_set_size(records->memory, 0);
	return VMT_STATUS_OK;

io_error:
	VMT_LOGE_APPEND_CAUSE(store->log, "Cannot write intervals to a temporary file: %s",
			      strerror(errno));
	return VMT_STATUS_ERROR;
}

static enum vmt_status spill_all(struct vmt_row_store *store)
{
	enum vmt_status status = VMT_STATUS_OK;
	guint i;

	if (!store->spill) {
		store->spill = tmpfile();
		if (!store->spill) {
			VMT_LOGE_APPEND_CAUSE(store->log,
					      "Cannot create a temporary file for intervals: %s",
					      strerror(errno));
			return VMT_STATUS_ERROR;
		}
	}
	for (i = 0; i < store->order->len && status == VMT_STATUS_OK; i++) {
		status = spill_key(store, g_ptr_array_index(store->order, i));
	}
	return status;
}

enum vmt_status vmt_row_store_append(struct vmt_row_store *store, uint64_t key, const void *record)
{
	struct key_records *records = g_hash_table_lookup(store->by_key, &key);

	if (!records) {
		records = g_new0(struct key_records, 1);
		records->key = key;
		records->chunks = g_array_new(FALSE, FALSE, sizeof(struct chunk));
		records->memory = g_array_new(FALSE, FALSE, store->record_size);
		g_hash_table_insert(store->by_key, &records->key, records);
		g_ptr_array_add(store->order, records);
	}
	g_array_append_vals(records->memory, record, 1);
	records->count++;
	store->memory_count++;
	if (store->has_failed) {
		return VMT_STATUS_ERROR;
	}
	if (store->memory_count >= store->memory_limit && spill_all(store) != VMT_STATUS_OK) {
		store->has_failed = true;
		return VMT_STATUS_ERROR;
	}
	return VMT_STATUS_OK;
}

uint64_t vmt_row_store_count(const struct vmt_row_store *store, uint64_t key)
{
	const struct key_records *records = g_hash_table_lookup(store->by_key, &key);

	return records ? records->count : 0;
}

GArray *vmt_row_store_keys(const struct vmt_row_store *store)
{
	GArray *keys = g_array_sized_new(FALSE, FALSE, sizeof(uint64_t), store->order->len);
	guint i;

	for (i = 0; i < store->order->len; i++) {
		const struct key_records *records = g_ptr_array_index(store->order, i);

		g_array_append_val(keys, records->key);
	}
	return keys;
}

static enum vmt_status read_chunk(struct vmt_row_store *store, const struct chunk *chunk,
				  char *buffer, enum vmt_status (*func)(const void *, void *),
				  void *data)
{
	enum vmt_status status = VMT_STATUS_OK;
	uint64_t done = 0, i;

	if (fseek(store->spill, chunk->offset, SEEK_SET) != 0) {
		goto io_error;
	}
	while (done < chunk->count && status == VMT_STATUS_OK) {
		uint64_t block = MIN(chunk->count - done, READ_BLOCK_RECORDS);

		if (fread(buffer, store->record_size, block, store->spill) != block) {
			goto io_error;
		}
		for (i = 0; i < block && status == VMT_STATUS_OK; i++) {
			status = func(buffer + i * store->record_size, data);
		}
		done += block;
	}
	return status;

io_error:
	VMT_LOGE_APPEND_CAUSE(store->log, "Cannot read intervals back from a temporary file: %s",
			      strerror(errno));
	return VMT_STATUS_ERROR;
}

enum vmt_status vmt_row_store_foreach(struct vmt_row_store *store, uint64_t key,
				      enum vmt_status (*func)(const void *record, void *data),
				      void *data)
{
	struct key_records *records = g_hash_table_lookup(store->by_key, &key);
	enum vmt_status status = VMT_STATUS_OK;
	char *buffer = NULL;
	guint i;

	if (!records) {
		return VMT_STATUS_OK;
	}
	if (records->chunks->len) {
		buffer = g_malloc(store->record_size * READ_BLOCK_RECORDS);
		/* Reading moves the file position; later appends seek to the end again. */
		for (i = 0; i < records->chunks->len && status == VMT_STATUS_OK; i++) {
			status = read_chunk(store, &g_array_index(records->chunks, struct chunk, i),
					    buffer, func, data);
		}
	}
	for (i = 0; i < records->memory->len && status == VMT_STATUS_OK; i++) {
		status = func(records->memory->data + (gsize) i * store->record_size, data);
	}
	g_free(buffer);
	return status;
}
