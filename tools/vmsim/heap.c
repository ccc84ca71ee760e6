/* SPDX-License-Identifier: MIT */
#include "heap.h"

#include <string.h>

static void *element_at(GArray *heap, guint i, guint size)
{
	return heap->data + (gsize) i * size;
}

static void swap(GArray *heap, guint i, guint j, guint size, void *tmp)
{
	memcpy(tmp, element_at(heap, i, size), size);
	memcpy(element_at(heap, i, size), element_at(heap, j, size), size);
	memcpy(element_at(heap, j, size), tmp, size);
}

void vmsim_heap_push(GArray *heap, const void *element, vmsim_heap_less less)
{
	guint size = g_array_get_element_size(heap);
	void *tmp = g_alloca(size);
	guint i;

	g_array_append_vals(heap, element, 1);
	for (i = heap->len - 1; i > 0; i = (i - 1) / 2) {
		guint parent = (i - 1) / 2;

		if (!less(element_at(heap, i, size), element_at(heap, parent, size))) {
			break;
		}
		swap(heap, i, parent, size, tmp);
	}
}

void vmsim_heap_pop(GArray *heap, void *out, vmsim_heap_less less)
{
	guint size = g_array_get_element_size(heap);
	guint n = heap->len - 1;
	void *tmp = g_alloca(size);
	guint i = 0;

	memcpy(out, element_at(heap, 0, size), size);
	if (n > 0) {
		memcpy(element_at(heap, 0, size), element_at(heap, n, size), size);
	}
	g_array_set_size(heap, n);
	for (;;) {
		guint l = 2 * i + 1;
		guint m = i;

		if (l < n && less(element_at(heap, l, size), element_at(heap, m, size))) {
			m = l;
		}
		if (l + 1 < n && less(element_at(heap, l + 1, size), element_at(heap, m, size))) {
			m = l + 1;
		}
		if (m == i) {
			break;
		}
		swap(heap, i, m, size, tmp);
		i = m;
	}
}
