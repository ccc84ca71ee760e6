/* SPDX-License-Identifier: MIT */
/*
 * The window pass's estimates (see window-pass-internal.h): one per wanted
 * guest, run on up to VMT_PARALLEL_READ_ENV threads.
 *
 * The estimator is plain computation over arrays the calling thread filled
 * (no Babeltrace object, no global state), so guests can be estimated side
 * by side; with two guests on two cores the pass's estimates take the time
 * of the longest one. The only shared state is the next job's index. A
 * failing estimate appends its causes to its thread's error, which the
 * calling thread takes back after the join, in job order.
 */
#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/parallel-read.h"
#include "lib/window-pass-internal.h"

struct estimate_run {
	struct vmt_window_pass_job *jobs; /* Weak. */
	guint job_count;
	gint next; /* Atomic: the next job to take. */
};

static void run_job(struct vmt_window_pass_job *job)
{
	job->status =
		vmt_sync_window_estimate_piecewise(job->vcpus, job->vcpu_count, NULL, &job->pieces);
	if (job->status != VMT_STATUS_OK) {
		job->error = bt_current_thread_take_error();
	}
	job->has_run = true;
}

/* Takes jobs until none is left: the calling thread and each worker run this. */
static gpointer run_jobs(gpointer data)
{
	struct estimate_run *run = data;

	for (;;) {
		guint j = (guint) g_atomic_int_add(&run->next, 1);

		if (j >= run->job_count) {
			return NULL;
		}
		if (run->jobs[j].vcpus) {
			run_job(&run->jobs[j]);
		}
	}
}

enum vmt_status vmt_window_pass_estimate_all(struct vmt_window_pass_job *jobs, guint job_count,
					     guint thread_count)
{
	struct estimate_run run = { .jobs = jobs, .job_count = job_count, .next = 0 };
	GThread *workers[VMT_PARALLEL_READ_MAX];
	guint worker_count = 0;
	enum vmt_status status = VMT_STATUS_OK;

	while (worker_count + 1 < MIN(thread_count, MIN(job_count, VMT_PARALLEL_READ_MAX))) {
		workers[worker_count] =
			g_thread_try_new("vmtrace-window-estimate", run_jobs, &run, NULL);
		if (!workers[worker_count]) {
			/* Fewer threads only make the pass slower. */
			break;
		}
		worker_count++;
	}
	run_jobs(&run);
	for (guint w = 0; w < worker_count; w++) {
		g_thread_join(workers[w]);
	}
	for (guint j = 0; j < job_count; j++) {
		if (jobs[j].error) {
			bt_current_thread_move_error(jobs[j].error);
			jobs[j].error = NULL;
		}
		if (jobs[j].has_run && jobs[j].status != VMT_STATUS_OK && status == VMT_STATUS_OK) {
			status = jobs[j].status;
		}
	}
	return status;
}
