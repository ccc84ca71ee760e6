/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the interval builder (lib/intervals*.c) on hand-made host
 * event sequences: rows, merging, zero-length drops, attribution, guest
 * threads, retroactive identity, ends of timelines, the pCPU view, the
 * row store's spill to disk, and host thread churn in bounded memory.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "lib/intervals.h"
#include "lib/row-store.h"
#include "lib/writer.h"

#include "host-events.h"
#include "tap.h"

static struct vmt_log_ctx log_ctx = VMT_LOG_CTX_INIT_STANDALONE(BT_LOGGING_LEVEL_NONE);

/* The guest side, as a sink would know it: one current thread per (VM, vCPU). */
static struct {
	const struct vmt_vm *vm;
	int64_t vcpu;
	int64_t tid;
	const char *comm;
} guest;

static int64_t lookup_guest(void *user, const struct vmt_vm *vm, int64_t vcpu, const char **comm)
{
	(void) user;
	if (vm == guest.vm && vcpu == guest.vcpu) {
		*comm = guest.comm;
		return guest.tid;
	}
	*comm = NULL;
	return -1;
}

static void set_guest(struct vmt_intervals *intervals, struct vmt_host_model *m,
		      const struct vmt_vm *vm, int64_t vcpu, int64_t tid, const char *comm,
		      int64_t ts)
{
	guest.vm = vm;
	guest.vcpu = vcpu;
	guest.tid = tid;
	guest.comm = comm;
	vmt_intervals_guest_thread_changed(intervals, m, vm, vcpu, ts);
}

/* Runs `finish` into a CSV string (caller frees). */
static char *finish_csv(struct vmt_intervals *intervals, enum vmt_writer_view view, int64_t end)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&buf, &size);
	struct vmt_writer *writer = vmt_writer_create(VMT_WRITER_FORMAT_CSV, view, out, &log_ctx);

	OK(vmt_intervals_finish(intervals, end, writer) == VMT_STATUS_OK, "finish succeeds");
	vmt_writer_destroy(writer);
	fclose(out);
	return buf;
}

static void check_csv(const char *got, const char *expected, const char *what)
{
	bool same = strcmp(got, expected) == 0;

	OK(same, "%s", what);
	if (!same) {
		printf("# got:\n%s# expected:\n%s", got, expected);
	}
}

#define UUID_A "aaaaaaaa-0000-4000-8000-000000000001"
#define UUID_B "bbbbbbbb-0000-4000-8000-000000000002"

/* VM A (QEMU pid 100, vCPU 0 thread 101) and VM B (pid 200, vCPU 0 thread 201), at time 1–2. */
static void feed_two_vms(struct vmt_host_model *m)
{
	feed_statedump(m, 1, 100, 100, "qemu-a");
	feed_statedump(m, 1, 101, 100, "CPU 0/KVM");
	feed_statedump(m, 1, 200, 200, "qemu-b");
	feed_statedump(m, 1, 201, 200, "CPU 0/KVM");
	feed_vm_uuid(m, 2, 100, UUID_A);
	feed_vm_uuid(m, 2, 200, UUID_B);
}

/* Two VMs share one pCPU: preemption attribution in both directions, HLT idle, merging. */
static void test_vcpu_rows(void)
{
	struct vmt_intervals *intervals = vmt_intervals_create(VMT_WRITER_VIEW_VCPU, &log_ctx);
	struct vmt_host_model *m = vmt_intervals_add_host(intervals);
	struct vmt_vm *vm_a;
	char *csv;

	vmt_intervals_set_guest_lookup(intervals, lookup_guest, NULL);

	feed_two_vms(m);
	vm_a = vmt_host_model_find_vm(m, UUID_A, false, 0);
	g_strlcpy(vm_a->guest_hostname, "web", sizeof(vm_a->guest_hostname));
	feed_sched_switch(m, 10, 0, 0, "swapper/0", 0, 101, "CPU 0/KVM");
	feed_entry(m, 20, 0, -1);
	set_guest(intervals, m, vm_a, 0, 42, "nginx, \"w\"", 25);
	feed_exit(m, 30, 0, 1, 1, -1);
	feed_sched_switch(m, 40, 0, 101, "CPU 0/KVM", 256, 201, "CPU 0/KVM");
	feed_entry(m, 50, 0, -1);
	feed_exit(m, 60, 0, 12, 1, -1);
	feed_sched_switch(m, 70, 0, 201, "CPU 0/KVM", 1, 101, "CPU 0/KVM");
	feed_entry(m, 80, 0, -1);
	/* Two changes at one time: the zero-length hypervisor row vanishes. */
	feed_exit(m, 90, 0, 32, 1, -1);
	feed_entry(m, 90, 0, -1);
	csv = finish_csv(intervals, VMT_WRITER_VIEW_VCPU, 100);
	check_csv(
		csv,
		"vm_uuid,vm_name,vcpu,state,begin_ns,end_ns,duration_ns,host_tid,pcpu,exit_reason,"
		"preempted_by_tid,preempted_by_comm,preempted_by_vm,preempted_by_vcpu,guest_tid,"
		"guest_comm\n" UUID_A ",web,0,hypervisor,10,20,10,101,0,,,,,,,\n" UUID_A
		",web,0,running,20,30,10,101,0,,,,,,,\n" UUID_A
		",web,0,hypervisor,30,40,10,101,0,1,,,,,,\n" UUID_A
		",web,0,preempted,40,70,30,101,-1,,201,CPU 0/KVM," UUID_B
		",0,42,\"nginx, \"\"w\"\"\"\n" UUID_A
		",web,0,hypervisor,70,80,10,101,0,1,,,,,,\n" UUID_A
		",web,0,running,80,100,20,101,0,,,,,,,\n" UUID_B
		",qemu-b,0,hypervisor,40,50,10,201,0,,,,,,,\n" UUID_B
		",qemu-b,0,running,50,60,10,201,0,,,,,,,\n" UUID_B
		",qemu-b,0,hypervisor,60,70,10,201,0,12,,,,,,\n" UUID_B
		",qemu-b,0,idle,70,100,30,201,-1,12,,,,,,\n",
		"vCPU rows of two VMs sharing a pCPU");
	free(csv);
	vmt_intervals_destroy(intervals);
}

/* A thread known only by its first entry, a pid-named VM, and a timeline ended by death. */
static void test_late_identity_and_death(void)
{
	struct vmt_intervals *intervals = vmt_intervals_create(VMT_WRITER_VIEW_VCPU, &log_ctx);
	struct vmt_host_model *m = vmt_intervals_add_host(intervals);
	struct vmt_host_event ev;
	char *csv;

	feed_statedump(m, 1, 300, 300, "qemu-system-x86");
	feed_statedump(m, 1, 301, 300, "qemu-system-x86");
	feed_sched_switch(m, 10, 1, 0, "swapper/1", 0, 301, "qemu-system-x86");
	ev = ev_base(VMT_HOST_EVENT_KVM_EXIT, 15, 1);
	ev.u.exit.exit_reason = 48;
	ev.u.exit.isa = 1;
	ev.u.exit.vcpu_id = 3;
	vmt_host_model_handle(m, &ev);
	ev = ev_base(VMT_HOST_EVENT_PROCESS_EXIT, 20, 1);
	ev.u.process_exit.tid = 301;
	vmt_host_model_handle(m, &ev);
	feed_sched_switch(m, 25, 1, 301, "qemu-system-x86", 0, 0, "swapper/1");
	csv = finish_csv(intervals, VMT_WRITER_VIEW_VCPU, 100);
	check_csv(
		csv,
		"vm_uuid,vm_name,vcpu,state,begin_ns,end_ns,duration_ns,host_tid,pcpu,exit_reason,"
		"preempted_by_tid,preempted_by_comm,preempted_by_vm,preempted_by_vcpu,guest_tid,"
		"guest_comm\n"
		"pid:300,qemu-system-x86,3,hypervisor,10,15,5,301,1,,,,,,,\n"
		"pid:300,qemu-system-x86,3,hypervisor,15,25,10,301,1,48,,,,,,\n",
		"retroactive start at the switch-in, exit index, end at death, pid name");
	free(csv);
	vmt_intervals_destroy(intervals);
}

/* pCPU rows: host, hypervisor and guest levels, guest thread splits. */
static void test_pcpu_rows(void)
{
	struct vmt_intervals *intervals = vmt_intervals_create(VMT_WRITER_VIEW_PCPU, &log_ctx);
	struct vmt_host_model *m = vmt_intervals_add_host(intervals);
	struct vmt_vm *vm;
	char *csv;

	vmt_intervals_set_guest_lookup(intervals, lookup_guest, NULL);

	feed_statedump(m, 1, 101, 100, "CPU 0/KVM");
	feed_vm_uuid(m, 2, 100, UUID_A);
	vm = vmt_host_model_find_vm(m, UUID_A, false, 0);
	feed_sched_switch(m, 10, 2, 0, "swapper/2", 0, 7, "kworker/2:1");
	feed_sched_switch(m, 20, 2, 7, "kworker/2:1", 1, 101, "CPU 0/KVM");
	feed_entry(m, 30, 2, -1);
	set_guest(intervals, m, vm, 0, 55, "bash", 35);
	feed_exit(m, 40, 2, 1, 1, -1);
	feed_sched_switch(m, 50, 2, 101, "CPU 0/KVM", 0, 0, "swapper/2");
	csv = finish_csv(intervals, VMT_WRITER_VIEW_PCPU, 60);
	check_csv(csv,
		  "pcpu,begin_ns,end_ns,duration_ns,level,host_tid,host_comm,vm_uuid,vm_name,vcpu,"
		  "guest_tid,guest_comm\n"
		  "2,10,20,10,host,7,kworker/2:1,,,,,\n"
		  "2,20,30,10,hypervisor,101,CPU 0/KVM," UUID_A ",,0,,\n"
		  "2,30,35,5,guest,101,CPU 0/KVM," UUID_A ",,0,,\n"
		  "2,35,40,5,guest,101,CPU 0/KVM," UUID_A ",,0,55,bash\n"
		  "2,40,50,10,hypervisor,101,CPU 0/KVM," UUID_A ",,0,,\n"
		  "2,50,60,10,host,0,swapper/2,,,,,\n",
		  "pCPU rows with levels and a guest thread change");
	free(csv);
	vmt_intervals_destroy(intervals);
}

#define CHURN_TASKS 20000

/* Counts the lines of `csv` that contain `needle`. */
static guint count_lines_with(const char *csv, const char *needle)
{
	guint count = 0;

	for (const char *at = strstr(csv, needle); at; at = strstr(at + 1, needle)) {
		count++;
	}
	return count;
}

/*
 * Host threads come and go (fork, preempt the vCPU, exit): the model keeps
 * only the alive ones and the vCPUs, and the rows still name every
 * preemptor, including a vCPU of another VM that died since.
 */
static void test_churn(enum vmt_writer_view view)
{
	struct vmt_intervals *intervals = vmt_intervals_create(view, &log_ctx);
	struct vmt_host_model *m = vmt_intervals_add_host(intervals);
	int64_t ts = 100;
	guint peak_threads = 0;
	char *csv;

	feed_two_vms(m);
	feed_sched_switch(m, 10, 0, 0, "swapper/0", 0, 101, "CPU 0/KVM");
	feed_entry(m, 20, 0, -1);
	for (int64_t i = 0; i < CHURN_TASKS; i++, ts += 100) {
		/* Short-lived tasks reuse tids, as a busy host does. */
		int64_t tid = 1000 + i % 5000;

		feed_fork(m, ts, tid, tid, "make");
		feed_exit(m, ts + 10, 0, 1, 1, -1);
		feed_sched_switch(m, ts + 20, 0, 101, "CPU 0/KVM", 0, tid, "cc1");
		feed_sched_switch(m, ts + 50, 0, tid, "cc1", 16, 101, "CPU 0/KVM");
		feed_entry(m, ts + 60, 0, -1);
		peak_threads = MAX(peak_threads, vmt_host_model_thread_count(m));
	}
	/* VM B's vCPU preempts VM A's, then dies. */
	feed_exit(m, ts + 10, 0, 1, 1, -1);
	feed_sched_switch(m, ts + 20, 0, 101, "CPU 0/KVM", 0, 201, "CPU 0/KVM");
	feed_sched_switch(m, ts + 50, 0, 201, "CPU 0/KVM", 16, 101, "CPU 0/KVM");
	feed_sched_switch(m, ts + 70, 1, 0, "swapper/1", 0, 7, "kworker/1:0");
	OK(peak_threads <= 6, "%s: at most %u thread instances kept with %d tasks come and gone",
	   view == VMT_WRITER_VIEW_VCPU ? "vCPU view" : "pCPU view", peak_threads, CHURN_TASKS);
	csv = finish_csv(intervals, view, ts + 100);
	if (view == VMT_WRITER_VIEW_VCPU) {
		IS_I64(count_lines_with(csv, ",preempted,"), CHURN_TASKS + 1,
		       "vCPU view: one preempted row per task, and one for the other vCPU");
		IS_I64(count_lines_with(csv, ",cc1,,,,\n"), CHURN_TASKS,
		       "vCPU view: each preemption by a task names it, and no VM");
		OK(strstr(csv, ",preempted,120,150,30,101,-1,,1000,cc1,,,,\n") != NULL,
		   "vCPU view: the first task's row");
		OK(strstr(csv, ",201,CPU 0/KVM," UUID_B ",0,,\n") != NULL,
		   "vCPU view: the dead vCPU of VM B still names its VM and index");
	} else {
		IS_I64(count_lines_with(csv, ",host,"), CHURN_TASKS + 1,
		       "pCPU view: one host row per task, and the kworker's");
		IS_I64(count_lines_with(csv, ",hypervisor,201,CPU 0/KVM," UUID_B ",qemu-b,0,,\n"),
		       1, "pCPU view: the dead vCPU of VM B still at hypervisor level, named");
	}
	free(csv);
	vmt_intervals_destroy(intervals);
}

static enum vmt_status sum_record(const void *record, void *data)
{
	uint64_t *sum = data;

	*sum += *(const uint64_t *) record;
	return VMT_STATUS_OK;
}

/* Records survive the spill to the temporary file, in order and complete. */
static void test_row_store_spill(void)
{
	struct vmt_row_store *store = vmt_row_store_create(sizeof(uint64_t), 100, &log_ctx);
	uint64_t i, sum_a = 0, sum_b = 0;

	for (i = 0; i < 10000; i++) {
		vmt_row_store_append(store, i % 3 ? 1 : 2, &i);
	}
	vmt_row_store_foreach(store, 1, sum_record, &sum_a);
	vmt_row_store_foreach(store, 2, sum_record, &sum_b);
	IS_I64((int64_t) (sum_a + sum_b), 10000 * 9999 / 2, "every record read back once");
	IS_I64((int64_t) vmt_row_store_count(store, 2), 3334, "count per key");
	vmt_row_store_destroy(store);
}

int main(void)
{
	test_vcpu_rows();
	test_late_identity_and_death();
	test_pcpu_rows();
	test_row_store_spill();
	test_churn(VMT_WRITER_VIEW_VCPU);
	test_churn(VMT_WRITER_VIEW_PCPU);
	return tap_done();
}
