/* SPDX-License-Identifier: MIT */
/*
 * vmsync exchange matching.
 *
 * Host and guest traces are read independently, so either half of an
 * exchange may come first, and one side may be read entirely before the
 * other. A half waits in `unmatched`, keyed by (vm_uid, cnt, direction),
 * until the other half arrives; the pair then becomes a point of its VM and
 * the key leaves the table. A VM's points are reduced to what the fit uses
 * (vmt_sync_points_reduce()) whenever they double, so memory is the
 * pending halves plus the hulls, not a point per exchange of the trace.
 */
#define VMT_LOG_TAG "VMTRACE/SYNC-MATCH"
#include "lib/log.h"

#include <glib.h>

#include "lib/sync.h"

/* Which message an event belongs to. */
enum match_direction {
	/* Guest to host: `vmsync_gh_guest` then `vmsync_gh_host`. */
	MATCH_DIRECTION_GH,
	/* Host to guest: `vmsync_hg_host` then `vmsync_hg_guest`. */
	MATCH_DIRECTION_HG,
};

struct match_key {
	uint64_t vm_uid;
	uint64_t cnt;
	enum match_direction direction;
};

/* One half-exchange waiting for its other half; the key is the table's key. */
struct match_half {
	struct match_key key;
	int64_t ns;
	bool is_guest;
};

/* One kind of points of one VM. */
struct match_points {
	GArray *kept; /* Owned: `struct vmt_sync_point`, reduced. */
	/* Every point matched, kept or not. */
	uint64_t total;
	/* Reduce `kept` when it reaches this length. */
	guint reduce_at;
};

/* The matched points of one VM; `vm_uid` is the table's key. */
struct match_vm {
	uint64_t vm_uid;
	struct match_points upper; /* Guest-to-host messages. */
	struct match_points lower; /* Host-to-guest messages. */
};

/* Points added between reductions, at least: a reduction sorts them, so it is cheap per point. */
#define REDUCE_BATCH 4096

struct vmt_sync_matcher {
	/* Owned: `struct match_key *` (inside the value) to owned `struct match_half *`. */
	GHashTable *unmatched;
	/* Owned: `uint64_t *` (inside the value) to owned `struct match_vm *`. */
	GHashTable *vms;
	uint64_t duplicate_count;
};

/* splitmix64's finaliser: cheap, and spreads the sequential `cnt` values. */
static uint64_t mix64(uint64_t value)
{
	value ^= value >> 30;
	value *= UINT64_C(0xbf58476d1ce4e5b9);
	value ^= value >> 27;
	value *= UINT64_C(0x94d049bb133111eb);
	return value ^ (value >> 31);
}

static guint hash_key(gconstpointer data)
{
	const struct match_key *key = data;

	return (guint) mix64(mix64(key->vm_uid) ^ (key->cnt << 1) ^ (uint64_t) key->direction);
}

static gboolean equal_keys(gconstpointer a, gconstpointer b)
{
	const struct match_key *ka = a;
	const struct match_key *kb = b;

	return ka->vm_uid == kb->vm_uid && ka->cnt == kb->cnt && ka->direction == kb->direction;
}

static void destroy_vm(gpointer data)
{
	struct match_vm *vm = data;

	g_array_free(vm->upper.kept, TRUE);
	g_array_free(vm->lower.kept, TRUE);
	g_free(vm);
}

struct vmt_sync_matcher *vmt_sync_matcher_create(void)
{
	struct vmt_sync_matcher *matcher = g_new0(struct vmt_sync_matcher, 1);

	matcher->unmatched = g_hash_table_new_full(hash_key, equal_keys, NULL, g_free);
	matcher->vms = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, destroy_vm);
	return matcher;
}

void vmt_sync_matcher_destroy(struct vmt_sync_matcher *matcher)
{
	if (!matcher) {
		return;
	}
	g_clear_pointer(&matcher->unmatched, g_hash_table_destroy);
	g_clear_pointer(&matcher->vms, g_hash_table_destroy);
	g_free(matcher);
}

static struct match_vm *find_or_add_vm(struct vmt_sync_matcher *matcher, uint64_t vm_uid)
{
	struct match_vm *vm = g_hash_table_lookup(matcher->vms, &vm_uid);

	if (!vm) {
		vm = g_new0(struct match_vm, 1);
		vm->vm_uid = vm_uid;
		vm->upper = (struct match_points){
			g_array_new(FALSE, FALSE, sizeof(struct vmt_sync_point)), 0, REDUCE_BATCH
		};
		vm->lower = (struct match_points){
			g_array_new(FALSE, FALSE, sizeof(struct vmt_sync_point)), 0, REDUCE_BATCH
		};
		g_hash_table_insert(matcher->vms, &vm->vm_uid, vm);
	}
	return vm;
}

/* Turns two halves of one key into a point of their VM. */
static void add_point(struct vmt_sync_matcher *matcher, const struct match_key *key,
		      int64_t guest_ns, int64_t host_ns)
{
	struct match_vm *vm = find_or_add_vm(matcher, key->vm_uid);
	struct vmt_sync_point point = { .guest_ns = guest_ns, .host_ns = host_ns };

	/*
	 * Guest to host: sent at guest g, received at host h, so the line
	 * passes below (upper point). Host to guest: the opposite (lower).
	 */
	bool is_upper = key->direction == MATCH_DIRECTION_GH;
	struct match_points *points = is_upper ? &vm->upper : &vm->lower;

	g_array_append_val(points->kept, point);
	points->total++;
	/* The fit's origin is the first upper point: lower points wait for one. */
	if (points->kept->len >= points->reduce_at && vm->upper.kept->len) {
		g_array_set_size(points->kept,
				 (guint) vmt_sync_points_reduce(
					 (struct vmt_sync_point *) (void *) points->kept->data,
					 points->kept->len, is_upper,
					 g_array_index(vm->upper.kept, struct vmt_sync_point, 0)));
		points->reduce_at = 2 * points->kept->len + REDUCE_BATCH;
	}
}

void vmt_sync_matcher_add(struct vmt_sync_matcher *matcher, enum vmt_sync_event_kind kind,
			  uint64_t vm_uid, uint64_t cnt, int64_t ns)
{
	bool is_guest = kind == VMT_SYNC_GH_GUEST || kind == VMT_SYNC_HG_GUEST;
	struct match_key key = {
		.vm_uid = vm_uid,
		.cnt = cnt,
		.direction = kind == VMT_SYNC_GH_GUEST || kind == VMT_SYNC_GH_HOST ?
				     MATCH_DIRECTION_GH :
				     MATCH_DIRECTION_HG,
	};
	struct match_half *waiting = g_hash_table_lookup(matcher->unmatched, &key);
	struct match_half *half;

	VMT_ASSERT_DBG(kind >= VMT_SYNC_GH_GUEST && kind <= VMT_SYNC_HG_GUEST);
	if (waiting && waiting->is_guest == is_guest) {
		/* Same half again: only the first one counts. */
		matcher->duplicate_count++;
	} else if (waiting) {
		add_point(matcher, &key, is_guest ? ns : waiting->ns, is_guest ? waiting->ns : ns);
		g_hash_table_remove(matcher->unmatched, &key);
	} else {
		half = g_new(struct match_half, 1);
		*half = (struct match_half){ .key = key, .ns = ns, .is_guest = is_guest };
		g_hash_table_insert(matcher->unmatched, &half->key, half);
	}
}

bool vmt_sync_matcher_borrow_points(const struct vmt_sync_matcher *matcher, uint64_t vm_uid,
				    const struct vmt_sync_point **upper, size_t *upper_count,
				    const struct vmt_sync_point **lower, size_t *lower_count)
{
	const struct match_vm *vm = g_hash_table_lookup(matcher->vms, &vm_uid);

	*upper = vm ? (const struct vmt_sync_point *) (const void *) vm->upper.kept->data : NULL;
	*upper_count = vm ? vm->upper.kept->len : 0;
	*lower = vm ? (const struct vmt_sync_point *) (const void *) vm->lower.kept->data : NULL;
	*lower_count = vm ? vm->lower.kept->len : 0;
	return *upper_count + *lower_count > 0;
}

void vmt_sync_matcher_point_counts(const struct vmt_sync_matcher *matcher, uint64_t vm_uid,
				   uint64_t *upper_count, uint64_t *lower_count)
{
	const struct match_vm *vm = g_hash_table_lookup(matcher->vms, &vm_uid);

	*upper_count = vm ? vm->upper.total : 0;
	*lower_count = vm ? vm->lower.total : 0;
}

uint64_t vmt_sync_matcher_duplicate_count(const struct vmt_sync_matcher *matcher)
{
	return matcher->duplicate_count;
}

uint64_t vmt_sync_matcher_unmatched_count(const struct vmt_sync_matcher *matcher)
{
	return g_hash_table_size(matcher->unmatched);
}
