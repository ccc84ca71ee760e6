/* SPDX-License-Identifier: MIT */
/*
 * A direct-mapped cache of pointer keys in front of a hash table.
 *
 * Per-event lookups (event class -> decoding, trace -> state) cycle through
 * a few keys (a host's switch, entry and exit classes; a host and its
 * guests' traces), so a one-entry cache misses and a hash lookup per event
 * shows in profiles; a small direct-mapped array keeps them in one load.
 */
#ifndef VMTRACE_LIB_PTR_CACHE_H
#define VMTRACE_LIB_PTR_CACHE_H

#include <stddef.h>
#include <stdint.h>

/* Slots (a power of 2). */
#define VMT_PTR_CACHE_SLOTS 64

struct vmt_ptr_cache {
	const void *keys[VMT_PTR_CACHE_SLOTS]; /* Weak. */
	void *values[VMT_PTR_CACHE_SLOTS]; /* Weak. */
};

static inline unsigned int vmt_ptr_cache_slot(const void *key)
{
	return ((uintptr_t) key >> 4) & (VMT_PTR_CACHE_SLOTS - 1);
}

/* The cached value of `key`, or NULL on a miss. */
static inline void *vmt_ptr_cache_find(const struct vmt_ptr_cache *cache, const void *key)
{
	unsigned int slot = vmt_ptr_cache_slot(key);

	return cache->keys[slot] == key ? cache->values[slot] : NULL;
}

/* Caches `value` for `key`, evicting whatever had its slot. */
static inline void vmt_ptr_cache_set(struct vmt_ptr_cache *cache, const void *key, void *value)
{
	unsigned int slot = vmt_ptr_cache_slot(key);

	cache->keys[slot] = key;
	cache->values[slot] = value;
}

#endif /* VMTRACE_LIB_PTR_CACHE_H */
