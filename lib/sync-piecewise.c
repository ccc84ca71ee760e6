/* SPDX-License-Identifier: MIT */
/*
 * Piecewise clock maps: storage, lookup and evaluation (see
 * sync-piecewise.h; the fit that builds them is sync-window-piecewise.c).
 */
#include "lib/sync-piecewise.h"

#include <string.h>

#include <glib.h>

struct vmt_clock_pieces *vmt_clock_pieces_create(const struct vmt_clock_piece *pieces, size_t count)
{
	struct vmt_clock_pieces *map = g_new0(struct vmt_clock_pieces, 1);

	map->pieces = g_new(struct vmt_clock_piece, MAX(count, 1));
	memcpy(map->pieces, pieces, count * sizeof(*pieces));
	map->count = count;
	return map;
}

void vmt_clock_pieces_destroy(struct vmt_clock_pieces *map)
{
	if (!map) {
		return;
	}
	g_free(map->pieces);
	g_free(map);
}

size_t vmt_clock_pieces_find(const struct vmt_clock_pieces *map, int64_t guest_ns)
{
	/* The last piece that begins at or before `guest_ns`, else the first. */
	size_t lo = 0, hi = map->count;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (map->pieces[mid].begin_guest_ns <= guest_ns) {
			lo = mid;
		} else {
			hi = mid;
		}
	}
	return lo;
}

/* Does piece `i` convert `guest_ns`? */
static bool piece_covers(const struct vmt_clock_pieces *map, size_t i, int64_t guest_ns)
{
	return (i == 0 || map->pieces[i].begin_guest_ns <= guest_ns) &&
	       (i + 1 == map->count || guest_ns < map->pieces[i + 1].begin_guest_ns);
}

int64_t vmt_clock_pieces_apply(struct vmt_clock_pieces *map, int64_t guest_ns)
{
	size_t i = map->hint;

	if (!piece_covers(map, i, guest_ns)) {
		/* Time moved on into the next piece: the usual case after the cached one. */
		if (i + 1 < map->count && piece_covers(map, i + 1, guest_ns)) {
			i++;
		} else {
			i = vmt_clock_pieces_find(map, guest_ns);
		}
		map->hint = i;
	}
	return vmt_clock_line_apply(&map->pieces[i].line, guest_ns);
}

size_t vmt_clock_pieces_main(const struct vmt_clock_pieces *map)
{
	size_t best = 0;

	for (size_t i = 1; i < map->count; i++) {
		if (map->pieces[i].event_count > map->pieces[best].event_count) {
			best = i;
		}
	}
	return best;
}

int64_t vmt_clock_pieces_error_bound_ns(const struct vmt_clock_pieces *map)
{
	int64_t bound = 0;

	for (size_t i = 0; i < map->count; i++) {
		if (map->pieces[i].error_bound_ns < 0) {
			return -1;
		}
		bound = MAX(bound, map->pieces[i].error_bound_ns);
	}
	return bound;
}
