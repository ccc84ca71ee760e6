/* SPDX-License-Identifier: MIT */
/*
 * Host model: instances and queries. The event handlers are in
 * host-model-events.c.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "lib/host-model-internal.h"

static void destroy_thread(gpointer data)
{
	g_free(data);
}

static void destroy_vm(gpointer data)
{
	struct vmt_vm *vm = data;

	g_array_free(vm->vm_uids, TRUE);
	g_ptr_array_free(vm->vcpus, TRUE);
	g_free(vm);
}

struct vmt_host_model *vmt_host_model_create(const struct vmt_host_model_listener *listener,
					     void *user)
{
	struct vmt_host_model *model = g_new0(struct vmt_host_model, 1);

	model->listener = listener;
	model->user = user;
	model->threads = g_hash_table_new(g_int64_hash, g_int64_equal);
	model->threads_by_serial =
		g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, destroy_thread);
	model->dead_threads = g_ptr_array_new();
	model->vms_by_pid = g_hash_table_new(g_int64_hash, g_int64_equal);
	model->all_vms = g_ptr_array_new_with_free_func(destroy_vm);
	model->cpus = g_array_new(FALSE, TRUE, sizeof(struct vmt_cpu_state));
	model->last_ts = INT64_MIN;
	return model;
}

void vmt_host_model_destroy(struct vmt_host_model *model)
{
	if (!model) {
		return;
	}
	g_hash_table_destroy(model->threads);
	g_hash_table_destroy(model->vms_by_pid);
	g_hash_table_destroy(model->threads_by_serial);
	g_ptr_array_free(model->dead_threads, TRUE);
	g_ptr_array_free(model->all_vms, TRUE);
	g_array_free(model->cpus, TRUE);
	g_free(model);
}

int64_t vmt_host_model_last_ts(const struct vmt_host_model *model)
{
	return model->last_ts;
}

int64_t vmt_host_model_cpu_count(const struct vmt_host_model *model)
{
	return model->cpus->len;
}

struct vmt_cpu_state *vmt_host_model_cpu(struct vmt_host_model *model, int64_t cpu)
{
	if (cpu < 0 || cpu >= VMT_HOST_MODEL_MAX_CPUS) {
		return NULL;
	}
	if ((guint) cpu >= model->cpus->len) {
		guint old_len = model->cpus->len;
		guint i;

		g_array_set_size(model->cpus, cpu + 1);
		for (i = old_len; i < model->cpus->len; i++) {
			g_array_index(model->cpus, struct vmt_cpu_state, i).current_tid = -1;
		}
	}
	return &g_array_index(model->cpus, struct vmt_cpu_state, cpu);
}

struct vmt_thread *vmt_host_model_borrow_cpu_thread(const struct vmt_host_model *model, int64_t cpu)
{
	if (cpu < 0 || (guint64) cpu >= model->cpus->len) {
		return NULL;
	}
	return g_array_index(model->cpus, struct vmt_cpu_state, cpu).current;
}

const char *vmt_host_model_borrow_cpu_comm(const struct vmt_host_model *model, int64_t cpu)
{
	if (cpu < 0 || (guint64) cpu >= model->cpus->len) {
		return "";
	}
	return g_array_index(model->cpus, struct vmt_cpu_state, cpu).comm;
}

int64_t vmt_host_model_cpu_tid(const struct vmt_host_model *model, int64_t cpu)
{
	if (cpu < 0 || (guint64) cpu >= model->cpus->len) {
		return -1;
	}
	return g_array_index(model->cpus, struct vmt_cpu_state, cpu).current_tid;
}

struct vmt_thread *vmt_host_model_find_thread(struct vmt_host_model *model, int64_t tid)
{
	return g_hash_table_lookup(model->threads, &tid);
}

struct vmt_thread *vmt_host_model_add_thread(struct vmt_host_model *model, int64_t tid)
{
	struct vmt_thread *thread = g_new0(struct vmt_thread, 1);

	thread->tid = tid;
	thread->pid = -1;
	thread->serial = model->next_serial++;
	thread->is_alive = true;
	thread->cpu = -1;
	thread->last_exit_reason = -1;
	thread->preempted_by_serial = VMT_NO_SERIAL;
	thread->preempted_by_tid = -1;
	thread->vcpu_index = -1;
	g_hash_table_insert(model->threads_by_serial, &thread->serial, thread);
	g_hash_table_insert(model->threads, &thread->tid, thread);
	return thread;
}

void vmt_host_model_free_dead_threads(struct vmt_host_model *model)
{
	guint i;

	for (i = 0; i < model->dead_threads->len; i++) {
		struct vmt_thread *thread = g_ptr_array_index(model->dead_threads, i);

		g_hash_table_remove(model->threads_by_serial, &thread->serial);
	}
	g_ptr_array_set_size(model->dead_threads, 0);
}

struct vmt_thread *vmt_host_model_find_or_add_thread(struct vmt_host_model *model, int64_t tid)
{
	struct vmt_thread *thread;

	/* Every CPU's idle task has tid 0: it is never one instance, nor a vCPU. */
	if (tid <= 0) {
		return NULL;
	}
	thread = vmt_host_model_find_thread(model, tid);
	return thread ? thread : vmt_host_model_add_thread(model, tid);
}

struct vmt_vm *vmt_host_model_find_vm_by_pid(struct vmt_host_model *model, int64_t pid)
{
	return g_hash_table_lookup(model->vms_by_pid, &pid);
}

static void copy_comm(char *dst, const char *src)
{
	g_strlcpy(dst, src ? src : "", VMT_COMM_SIZE);
}

struct vmt_vm *vmt_host_model_add_vm(struct vmt_host_model *model, int64_t pid)
{
	struct vmt_vm *vm = g_new0(struct vmt_vm, 1);
	struct vmt_thread *main_thread;

	vm->pid = pid;
	vm->serial = model->next_serial++;
	vm->is_alive = true;
	vm->vm_uids = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	vm->vcpus = g_ptr_array_new();
	g_ptr_array_add(model->all_vms, vm);
	/* A thread with unknown pid gets a VM of its own, never registered by pid. */
	if (pid >= 0) {
		g_hash_table_insert(model->vms_by_pid, &vm->pid, vm);
		main_thread = vmt_host_model_find_thread(model, pid);
		if (main_thread) {
			copy_comm(vm->comm, main_thread->comm);
		}
	}
	return vm;
}

void vmt_host_model_end_vm(struct vmt_host_model *model, struct vmt_vm *vm)
{
	if (!vm->is_alive) {
		return;
	}
	vm->is_alive = false;
	if (vm->pid >= 0 && vmt_host_model_find_vm_by_pid(model, vm->pid) == vm) {
		g_hash_table_remove(model->vms_by_pid, &vm->pid);
	}
}

void vmt_host_model_vm_add_uid(struct vmt_vm *vm, uint64_t vm_uid)
{
	guint i;

	for (i = 0; i < vm->vm_uids->len; i++) {
		if (g_array_index(vm->vm_uids, uint64_t, i) == vm_uid) {
			return;
		}
	}
	g_array_append_val(vm->vm_uids, vm_uid);
}

static bool vm_has_uid(const struct vmt_vm *vm, uint64_t vm_uid)
{
	guint i;

	for (i = 0; i < vm->vm_uids->len; i++) {
		if (g_array_index(vm->vm_uids, uint64_t, i) == vm_uid) {
			return true;
		}
	}
	return false;
}

struct vmt_vm *vmt_host_model_find_vm(const struct vmt_host_model *model, const char *uuid,
				      bool has_vm_uid, uint64_t vm_uid)
{
	struct vmt_vm *by_uid = NULL;
	guint i;

	/* Latest instance first: a re-created VM keeps its UUID. */
	for (i = model->all_vms->len; i > 0; i--) {
		struct vmt_vm *vm = g_ptr_array_index(model->all_vms, i - 1);

		if (!vm->is_alive) {
			continue;
		}
		if (uuid && uuid[0] && strcmp(vm->uuid, uuid) == 0) {
			return vm;
		}
		if (!by_uid && has_vm_uid && vm_has_uid(vm, vm_uid)) {
			by_uid = vm;
		}
	}
	return by_uid;
}

struct vmt_thread *vmt_host_model_find_vcpu_thread(const struct vmt_vm *vm, int64_t vcpu)
{
	if (!vm || vcpu < 0 || (guint64) vcpu >= vm->vcpus->len) {
		return NULL;
	}
	return g_ptr_array_index(vm->vcpus, vcpu);
}

void vmt_host_model_foreach_vm(const struct vmt_host_model *model,
			       void (*func)(struct vmt_vm *vm, void *data), void *data)
{
	guint i;

	for (i = 0; i < model->all_vms->len; i++) {
		func(g_ptr_array_index(model->all_vms, i), data);
	}
}

static gint compare_serials(gconstpointer a, gconstpointer b)
{
	uint64_t sa = (*(struct vmt_thread *const *) a)->serial;
	uint64_t sb = (*(struct vmt_thread *const *) b)->serial;

	return sa < sb ? -1 : sa > sb;
}

void vmt_host_model_foreach_thread(const struct vmt_host_model *model,
				   void (*func)(struct vmt_thread *thread, void *data), void *data)
{
	GPtrArray *threads = g_ptr_array_sized_new(g_hash_table_size(model->threads_by_serial));
	GHashTableIter iter;
	gpointer value;
	guint i;

	g_hash_table_iter_init(&iter, model->threads_by_serial);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		g_ptr_array_add(threads, value);
	}
	g_ptr_array_sort(threads, compare_serials);
	for (i = 0; i < threads->len; i++) {
		func(g_ptr_array_index(threads, i), data);
	}
	g_ptr_array_free(threads, TRUE);
}

const struct vmt_thread *vmt_host_model_find_thread_by_serial(const struct vmt_host_model *model,
							      uint64_t serial)
{
	return serial == VMT_NO_SERIAL ? NULL :
					 g_hash_table_lookup(model->threads_by_serial, &serial);
}

guint vmt_host_model_thread_count(const struct vmt_host_model *model)
{
	return g_hash_table_size(model->threads_by_serial);
}

void vmt_vm_format_id(const struct vmt_vm *vm, char *buf, size_t size)
{
	if (vm && vm->uuid[0]) {
		g_strlcpy(buf, vm->uuid, size);
	} else {
		snprintf(buf, size, "pid:%" PRId64, vm ? vm->pid : (int64_t) -1);
	}
}

const char *vmt_vm_name(const struct vmt_vm *vm)
{
	if (!vm) {
		return "";
	}
	return vm->guest_hostname[0] ? vm->guest_hostname : vm->comm;
}

bool vmt_uuid_normalize(const char *in, char out[VMT_UUID_SIZE])
{
	static const int dash_at[] = { 8, 13, 18, 23 };
	int i, d = 0;

	if (!in) {
		return false;
	}
	while (*in == ' ' || *in == '"') {
		in++;
	}
	for (i = 0; i < VMT_UUID_SIZE - 1; i++) {
		if (d < 4 && i == dash_at[d]) {
			if (in[i] != '-') {
				return false;
			}
			d++;
		} else if (!isxdigit((unsigned char) in[i])) {
			return false;
		}
		out[i] = (char) tolower((unsigned char) in[i]);
	}
	out[VMT_UUID_SIZE - 1] = '\0';
	/* A 37th hex digit would mean this was not a UUID but a longer number. */
	return !isxdigit((unsigned char) in[VMT_UUID_SIZE - 1]);
}

int64_t vmt_vcpu_index_from_comm(const char *comm)
{
	int64_t index = 0;
	const char *p;

	if (!comm || strncmp(comm, "CPU ", 4) != 0 || !isdigit((unsigned char) comm[4])) {
		return -1;
	}
	for (p = comm + 4; isdigit((unsigned char) *p); p++) {
		if (index > 1000000) {
			return -1;
		}
		index = index * 10 + (*p - '0');
	}
	return strcmp(p, "/KVM") == 0 ? index : -1;
}

bool vmt_prev_state_is_runnable(int64_t prev_state)
{
	return (prev_state & 0xff) == 0;
}

int64_t vmt_exit_reason_basic(uint64_t exit_reason, int64_t isa)
{
	if (isa == 2) {
		return (int64_t) (exit_reason & 0xffffffffu);
	}
	return (int64_t) (exit_reason & 0xffffu);
}

bool vmt_exit_reason_is_hlt(int64_t reason, int64_t isa)
{
	return isa == 2 ? reason == 0x78 : reason == 12;
}
