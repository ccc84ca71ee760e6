/* SPDX-License-Identifier: MIT */
/*
 * A binary min-heap of fixed-size elements in a GArray: the reorder
 * buffer's records (reorder.c) and the scheduler's timers (sched.c).
 */
#ifndef VMSIM_HEAP_H
#define VMSIM_HEAP_H

#include <stdbool.h>

#include <glib.h>

/* Strict order of two elements of the heap. */
typedef bool (*vmsim_heap_less)(const void *a, const void *b);

/* Adds a copy of `element` to `heap`. */
void vmsim_heap_push(GArray *heap, const void *element, vmsim_heap_less less);

/* Moves the least element of `heap` (not empty) to `out`. */
void vmsim_heap_pop(GArray *heap, void *out, vmsim_heap_less less);

#endif /* VMSIM_HEAP_H */
