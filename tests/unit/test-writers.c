/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the output writers (lib/writer*.c).
 *
 * Without arguments: TAP checks of exact csv/jsonl output (hostile thread
 * names included), chrome structure, hand-computed parts of the text
 * reports, format parsing and I/O failures.
 *
 * With `--dump FORMAT VIEW [--origin NS] [--isa vmx|svm] [--out PATH]`:
 * reads rows from stdin and writes them with the writer, for
 * tests/python/test_writers.py. One row per line, fields separated by one
 * space, in CSV column order without `duration_ns`; strings are "-" (NULL)
 * or "x" followed by their bytes in hex, so any byte but NUL gets through.
 * The exit status is 0, or 1 if a write or the finish failed.
 */
#define VMT_LOG_TAG "TEST/WRITERS"
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/common.h"
#include "lib/rows.h"
#include "lib/writer-internal.h"
#include "lib/writer.h"

#include "tap.h"

static const struct vmt_log_ctx quiet_log = VMT_LOG_CTX_INIT_STANDALONE(BT_LOGGING_LEVEL_NONE);

#define T0 INT64_C(1700000000000000000)

/* Hostile thread names: quoting, escapes, non-ASCII and ill-formed UTF-8. */
#define COMM_QUOTES "say \"hi\""
#define COMM_LINES "line1\nline2\r"
#define COMM_BACKSLASH "back\\slash\ttab"
#define COMM_UTF8 "caf\xc3\xa9 \xe6\x97\xa5"
#define COMM_BAD "bad\xff\xc3"
#define COMM_CUT "\xe2\x82x\x01\x7f"
#define FFFD "\xef\xbf\xbd"

static struct vmt_vcpu_row vcpu_row(const char *vm_uuid, const char *vm_name, int64_t vcpu,
				    enum vmt_vcpu_state state, int64_t begin_ns, int64_t end_ns)
{
	struct vmt_vcpu_row row = {
		.vm_uuid = vm_uuid,
		.vm_name = vm_name,
		.vcpu = vcpu,
		.state = state,
		.begin_ns = begin_ns,
		.end_ns = end_ns,
		.host_tid = 100,
		.pcpu = -1,
		.exit_reason = -1,
		.preempted_by_tid = -1,
		.preempted_by_vcpu = -1,
		.guest_tid = -1,
	};

	return row;
}

static struct vmt_pcpu_row pcpu_row(int64_t pcpu, enum vmt_pcpu_level level, int64_t begin_ns,
				    int64_t end_ns, int64_t host_tid, const char *host_comm)
{
	struct vmt_pcpu_row row = {
		.pcpu = pcpu,
		.begin_ns = begin_ns,
		.end_ns = end_ns,
		.level = level,
		.host_tid = host_tid,
		.host_comm = host_comm,
		.vcpu = -1,
		.guest_tid = -1,
	};

	return row;
}

/* The CSV/JSONL sample: five vCPU rows covering every kind of column value. */
static void sample_vcpu_rows(struct vmt_vcpu_row *rows)
{
	rows[0] = vcpu_row("u-1", "web,1", 0, VMT_VCPU_STATE_RUNNING, T0, T0 + 1000);
	rows[0].host_tid = 4242;
	rows[0].pcpu = 3;
	rows[1] = vcpu_row("u-1", "web,1", 0, VMT_VCPU_STATE_PREEMPTED, T0 + 1000, T0 + 3500);
	rows[1].host_tid = 4242;
	rows[1].preempted_by_tid = 77;
	rows[1].preempted_by_comm = COMM_QUOTES;
	rows[1].preempted_by_vm = "u-2";
	rows[1].preempted_by_vcpu = 1;
	rows[1].guest_tid = 0;
	rows[1].guest_comm = COMM_LINES;
	rows[2] = vcpu_row("u-2", NULL, 1, VMT_VCPU_STATE_HYPERVISOR, 5, 5);
	rows[2].host_tid = 99;
	rows[2].pcpu = 0;
	rows[2].exit_reason = 48;
	rows[3] = vcpu_row("u-2", "", -1, VMT_VCPU_STATE_PREEMPTED, 10, 20);
	rows[3].host_tid = 99;
	rows[3].preempted_by_tid = 0;
	rows[3].preempted_by_comm = COMM_BACKSLASH;
	rows[3].guest_tid = 12;
	rows[3].guest_comm = COMM_BAD;
	rows[4] = vcpu_row("u-2", NULL, 2, VMT_VCPU_STATE_PREEMPTED, 0, 1);
	rows[4].host_tid = 5;
	rows[4].preempted_by_tid = 6;
	rows[4].preempted_by_comm = COMM_UTF8;
	rows[4].preempted_by_vm = "u-1";
	rows[4].preempted_by_vcpu = 0;
	rows[4].guest_tid = 7;
	rows[4].guest_comm = COMM_CUT;
}

static void sample_pcpu_rows(struct vmt_pcpu_row *rows)
{
	rows[0] = pcpu_row(0, VMT_PCPU_LEVEL_HOST, 100, 200, 0, "swapper/0");
	rows[1] = pcpu_row(0, VMT_PCPU_LEVEL_GUEST, 200, 300, 4242, "CPU 0/KVM");
	rows[1].vm_uuid = "u-1";
	rows[1].vm_name = "web,1";
	rows[1].vcpu = 0;
	rows[1].guest_tid = 812;
	rows[1].guest_comm = "ngin\"x";
}

/* An in-memory output: `open_memstream()` plus what it fills. */
struct memout {
	FILE *file;
	char *data;
	size_t size;
};

static struct vmt_writer *open_writer(struct memout *out, enum vmt_writer_format format,
				      enum vmt_writer_view view)
{
	out->data = NULL;
	out->size = 0;
	out->file = open_memstream(&out->data, &out->size);
	return vmt_writer_create(format, view, out->file, &quiet_log);
}

/* Finishes and destroys `writer`, closes the stream; returns the output (free()). */
static char *close_writer(struct memout *out, struct vmt_writer *writer)
{
	IS_I64(vmt_writer_finish(writer), VMT_STATUS_OK, "finish succeeds");
	vmt_writer_destroy(writer);
	fclose(out->file);
	return out->data;
}

static char *write_vcpu_rows(enum vmt_writer_format format, const struct vmt_vcpu_row *rows,
			     size_t count, const int64_t *origin_ns)
{
	struct memout out;
	struct vmt_writer *writer = open_writer(&out, format, VMT_WRITER_VIEW_VCPU);
	size_t i;

	if (origin_ns) {
		vmt_writer_set_time_origin(writer, *origin_ns);
	}
	for (i = 0; i < count; i++) {
		IS_I64(vmt_writer_write_vcpu_row(writer, &rows[i]), VMT_STATUS_OK, "row written");
	}
	return close_writer(&out, writer);
}

static char *write_pcpu_rows(enum vmt_writer_format format, const struct vmt_pcpu_row *rows,
			     size_t count)
{
	struct memout out;
	struct vmt_writer *writer = open_writer(&out, format, VMT_WRITER_VIEW_PCPU);
	size_t i;

	for (i = 0; i < count; i++) {
		IS_I64(vmt_writer_write_pcpu_row(writer, &rows[i]), VMT_STATUS_OK, "row written");
	}
	return close_writer(&out, writer);
}

static void test_csv(void)
{
	static const char expected_vcpu[] =
		"vm_uuid,vm_name,vcpu,state,begin_ns,end_ns,duration_ns,host_tid,pcpu,exit_reason,"
		"preempted_by_tid,preempted_by_comm,preempted_by_vm,preempted_by_vcpu,guest_tid,"
		"guest_comm\n"
		"u-1,\"web,1\",0,running,1700000000000000000,1700000000000001000,1000,4242,3,,,,,,,"
		"\n"
		"u-1,\"web,1\",0,preempted,1700000000000001000,1700000000000003500,2500,4242,-1,,77,"
		"\"say \"\"hi\"\"\",u-2,1,0,\"line1\nline2\r\"\n"
		"u-2,,1,hypervisor,5,5,0,99,0,48,,,,,,\n"
		"u-2,,-1,preempted,10,20,10,99,-1,,0,back\\slash\ttab,,,12,bad" FFFD FFFD "\n"
		"u-2,,2,preempted,0,1,1,5,-1,,6," COMM_UTF8 ",u-1,0,7," FFFD "x\x01\x7f\n";
	static const char expected_pcpu[] =
		"pcpu,begin_ns,end_ns,duration_ns,level,host_tid,host_comm,vm_uuid,vm_name,vcpu,"
		"guest_tid,guest_comm\n"
		"0,100,200,100,host,0,swapper/0,,,,,\n"
		"0,200,300,100,guest,4242,CPU 0/KVM,u-1,\"web,1\",0,812,\"ngin\"\"x\"\n";
	struct vmt_vcpu_row vrows[5];
	struct vmt_pcpu_row prows[2];
	char *output;

	sample_vcpu_rows(vrows);
	output = write_vcpu_rows(VMT_WRITER_FORMAT_CSV, vrows, 5, NULL);
	IS_STR(output, expected_vcpu, "csv vCPU rows: quoting, empties, UTF-8 repair");
	free(output);
	sample_pcpu_rows(prows);
	output = write_pcpu_rows(VMT_WRITER_FORMAT_CSV, prows, 2);
	IS_STR(output, expected_pcpu, "csv pCPU rows");
	free(output);
	output = write_vcpu_rows(VMT_WRITER_FORMAT_CSV, vrows, 0, NULL);
	OK(g_str_has_prefix(output, "vm_uuid,") && strchr(output, '\n') == strrchr(output, '\n'),
	   "csv without rows: the header alone");
	free(output);
}

static void test_jsonl(void)
{
	static const char expected_vcpu[] =
		"{\"vm_uuid\":\"u-1\",\"vm_name\":\"web,1\",\"vcpu\":0,\"state\":\"running\","
		"\"begin_ns\":1700000000000000000,\"end_ns\":1700000000000001000,\"duration_ns\":"
		"1000,\"host_tid\":4242,\"pcpu\":3,\"exit_reason\":null,\"preempted_by_tid\":null,"
		"\"preempted_by_comm\":null,\"preempted_by_vm\":null,\"preempted_by_vcpu\":null,"
		"\"guest_tid\":null,\"guest_comm\":null}\n"
		"{\"vm_uuid\":\"u-1\",\"vm_name\":\"web,1\",\"vcpu\":0,\"state\":\"preempted\","
		"\"begin_ns\":1700000000000001000,\"end_ns\":1700000000000003500,\"duration_ns\":"
		"2500,\"host_tid\":4242,\"pcpu\":-1,\"exit_reason\":null,\"preempted_by_tid\":77,"
		"\"preempted_by_comm\":\"say \\\"hi\\\"\",\"preempted_by_vm\":\"u-2\","
		"\"preempted_by_vcpu\":1,\"guest_tid\":0,\"guest_comm\":\"line1\\nline2\\r\"}\n"
		"{\"vm_uuid\":\"u-2\",\"vm_name\":null,\"vcpu\":1,\"state\":\"hypervisor\","
		"\"begin_ns\":5,\"end_ns\":5,\"duration_ns\":0,\"host_tid\":99,\"pcpu\":0,"
		"\"exit_reason\":48,\"preempted_by_tid\":null,\"preempted_by_comm\":null,"
		"\"preempted_by_vm\":null,\"preempted_by_vcpu\":null,\"guest_tid\":null,"
		"\"guest_comm\":null}\n"
		"{\"vm_uuid\":\"u-2\",\"vm_name\":null,\"vcpu\":-1,\"state\":\"preempted\","
		"\"begin_ns\":10,\"end_ns\":20,\"duration_ns\":10,\"host_tid\":99,\"pcpu\":-1,"
		"\"exit_reason\":null,\"preempted_by_tid\":0,\"preempted_by_comm\":"
		"\"back\\\\slash\\ttab\",\"preempted_by_vm\":null,\"preempted_by_vcpu\":null,"
		"\"guest_tid\":12,\"guest_comm\":\"bad" FFFD FFFD "\"}\n"
		"{\"vm_uuid\":\"u-2\",\"vm_name\":null,\"vcpu\":2,\"state\":\"preempted\","
		"\"begin_ns\":0,\"end_ns\":1,\"duration_ns\":1,\"host_tid\":5,\"pcpu\":-1,"
		"\"exit_reason\":null,\"preempted_by_tid\":6,\"preempted_by_comm\":\"" COMM_UTF8
		"\",\"preempted_by_vm\":\"u-1\",\"preempted_by_vcpu\":0,\"guest_tid\":7,"
		"\"guest_comm\":\"" FFFD "x\\u0001\\u007f\"}\n";
	static const char expected_pcpu[] =
		"{\"pcpu\":0,\"begin_ns\":100,\"end_ns\":200,\"duration_ns\":100,\"level\":\"host\","
		"\"host_tid\":0,\"host_comm\":\"swapper/0\",\"vm_uuid\":null,\"vm_name\":null,"
		"\"vcpu\":null,\"guest_tid\":null,\"guest_comm\":null}\n"
		"{\"pcpu\":0,\"begin_ns\":200,\"end_ns\":300,\"duration_ns\":100,\"level\":\"guest\","
		"\"host_tid\":4242,\"host_comm\":\"CPU 0/KVM\",\"vm_uuid\":\"u-1\",\"vm_name\":"
		"\"web,1\",\"vcpu\":0,\"guest_tid\":812,\"guest_comm\":\"ngin\\\"x\"}\n";
	struct vmt_vcpu_row vrows[5];
	struct vmt_pcpu_row prows[2];
	char *output;

	sample_vcpu_rows(vrows);
	output = write_vcpu_rows(VMT_WRITER_FORMAT_JSONL, vrows, 5, NULL);
	IS_STR(output, expected_vcpu, "jsonl vCPU rows: escapes, nulls, UTF-8 repair");
	free(output);
	sample_pcpu_rows(prows);
	output = write_pcpu_rows(VMT_WRITER_FORMAT_JSONL, prows, 2);
	IS_STR(output, expected_pcpu, "jsonl pCPU rows");
	free(output);
}

static void test_chrome_vcpu(void)
{
	static const char expected[] =
		"{\"traceEvents\":[\n"
		"{\"ph\":\"M\",\"cat\":\"__metadata\",\"name\":\"process_name\",\"pid\":1,\"tid\":0,"
		"\"ts\":0,\"args\":{\"name\":\"web,1 (u-1)\"}},\n"
		"{\"ph\":\"M\",\"cat\":\"__metadata\",\"name\":\"process_sort_index\",\"pid\":1,"
		"\"tid\":0,\"ts\":0,\"args\":{\"sort_index\":1}},\n"
		"{\"ph\":\"M\",\"cat\":\"__metadata\",\"name\":\"thread_name\",\"pid\":1,\"tid\":1,"
		"\"ts\":0,\"args\":{\"name\":\"vCPU 0\"}},\n"
		"{\"ph\":\"M\",\"cat\":\"__metadata\",\"name\":\"thread_sort_index\",\"pid\":1,"
		"\"tid\":1,\"ts\":0,\"args\":{\"sort_index\":0}},\n"
		"{\"ph\":\"X\",\"cat\":\"vcpu\",\"name\":\"running\",\"pid\":1,\"tid\":1,\"ts\":0.000,"
		"\"dur\":1.000,\"args\":{\"vm_uuid\":\"u-1\",\"vm_name\":\"web,1\",\"vcpu\":0,"
		"\"begin_ns\":\"1700000000000000000\",\"end_ns\":\"1700000000000001000\","
		"\"duration_ns\":"
		"1000,\"host_tid\":4242,\"pcpu\":3}},\n"
		"{\"ph\":\"X\",\"cat\":\"vcpu\",\"name\":\"preempted\",\"pid\":1,\"tid\":1,\"ts\":1.000,"
		"\"dur\":2.500,\"args\":{\"vm_uuid\":\"u-1\",\"vm_name\":\"web,1\",\"vcpu\":0,"
		"\"begin_ns\":\"1700000000000001000\",\"end_ns\":\"1700000000000003500\","
		"\"duration_ns\":"
		"2500,\"host_tid\":4242,\"pcpu\":-1,\"preempted_by_tid\":77,\"preempted_by_comm\":"
		"\"say \\\"hi\\\"\",\"preempted_by_vm\":\"u-2\",\"preempted_by_vcpu\":1,"
		"\"guest_tid\":0,\"guest_comm\":\"line1\\nline2\\r\"}}\n"
		"],\n"
		"\"displayTimeUnit\":\"ns\",\n"
		"\"otherData\":{\"generator\":\"vmtrace sink.vmstate.intervals\",\"view\":\"vcpu\","
		"\"origin_ns\":\"1700000000000000000\",\"clamped_events\":0}}\n";
	struct vmt_vcpu_row rows[5];
	int64_t origin_ns = 0;
	char *output;

	sample_vcpu_rows(rows);
	output = write_vcpu_rows(VMT_WRITER_FORMAT_CHROME, rows, 2, NULL);
	IS_STR(output, expected, "chrome vCPU: metadata, relative µs with ns precision, args");
	free(output);
	/* Rows 2-4 (VM u-2) begin long before row 0: clamped without an origin. */
	output = write_vcpu_rows(VMT_WRITER_FORMAT_CHROME, rows, 5, NULL);
	OK(strstr(output, "\"clamped_events\":3}") != NULL, "rows before the origin are counted");
	OK(strstr(output, "\"name\":\"vCPU ? (host tid 99)\"") != NULL,
	   "a vCPU of unknown index gets its own track");
	OK(strstr(output, "\"pid\":2,\"tid\":0,\"ts\":0,\"args\":{\"name\":\"u-2\"}") != NULL,
	   "a VM without a name is labelled by its UUID");
	free(output);
	output = write_vcpu_rows(VMT_WRITER_FORMAT_CHROME, rows, 5, &origin_ns);
	OK(strstr(output, "\"clamped_events\":0}") && strstr(output, "\"origin_ns\":\"0\"") &&
		   strstr(output, "\"ts\":1700000000000000.000,\"dur\":1.000"),
	   "an explicit origin is used as is");
	OK(strstr(output, "\"guest_comm\":\"" FFFD "x\\u0001\\u007f\"") != NULL,
	   "chrome args are escaped like jsonl");
	free(output);
}

static void test_chrome_pcpu(void)
{
	struct vmt_pcpu_row rows[2];
	char *output;

	sample_pcpu_rows(rows);
	output = write_pcpu_rows(VMT_WRITER_FORMAT_CHROME, rows, 2);
	OK(strstr(output, "\"name\":\"process_name\",\"pid\":1,\"tid\":0,\"ts\":0,\"args\":{"
			  "\"name\":\"Host CPUs\"}") != NULL,
	   "chrome pCPU: one process for the host");
	OK(strstr(output, "\"args\":{\"name\":\"CPU 0\"}") != NULL, "one track per pCPU");
	OK(strstr(output, "\"name\":\"host: swapper/0\",\"pid\":1,\"tid\":1,\"ts\":0.000,"
			  "\"dur\":0.100,") != NULL,
	   "host events are named after the level and the thread");
	OK(strstr(output, "\"name\":\"guest: web,1 vCPU 0\",\"pid\":1,\"tid\":1,\"ts\":0.100,") !=
		   NULL,
	   "guest events are named after the level, VM and vCPU");
	OK(strstr(output, "\"guest_comm\":\"ngin\\\"x\"}}\n],\n") != NULL,
	   "the guest thread is in args");
	OK(strstr(output, "\"view\":\"pcpu\",\"origin_ns\":\"100\"") != NULL,
	   "pCPU origin is the first row's begin");
	free(output);
}

/* `line` without leading blanks and with each run of blanks made one space. */
static char *collapse_blanks(const char *line)
{
	GString *collapsed = g_string_new(NULL);

	for (; *line; line++) {
		if (*line != ' ' ||
		    (collapsed->len > 0 && collapsed->str[collapsed->len - 1] != ' ')) {
			g_string_append_c(collapsed, *line);
		}
	}
	return g_string_free(collapsed, FALSE);
}

/* The first line of `text` that starts with `prefix` once its blanks are collapsed. */
static char *find_line(const char *text, const char *prefix)
{
	char **lines = g_strsplit(text, "\n", -1);
	char *found = NULL, *line;
	size_t i;

	for (i = 0; lines[i] && !found; i++) {
		line = collapse_blanks(lines[i]);
		if (g_str_has_prefix(line, prefix)) {
			found = line;
		} else {
			g_free(line);
		}
	}
	g_strfreev(lines);
	return found ? found : g_strdup("(no such line)");
}

static void check_line(const char *text, const char *prefix, const char *expected)
{
	char *line = find_line(text, prefix);

	IS_STR(line, expected, prefix);
	g_free(line);
}

/* Appends one vCPU row of VM `vm` ("aaaa" or "bbbb") to `rows`. */
static struct vmt_vcpu_row *add_row(GArray *rows, const char *vm, int64_t vcpu,
				    enum vmt_vcpu_state state, int64_t begin_ns, int64_t end_ns,
				    int64_t exit_reason)
{
	struct vmt_vcpu_row row = vcpu_row(vm, strcmp(vm, "aaaa") == 0 ? "vm-a" : "vm-b", vcpu,
					   state, begin_ns, end_ns);

	row.exit_reason = exit_reason;
	row.host_tid = 100 + vcpu;
	g_array_append_val(rows, row);
	return &g_array_index(rows, struct vmt_vcpu_row, rows->len - 1);
}

/*
 * VM a, vCPU 0: an HLT episode with idle inside (2000 → 5200), an I/O exit
 * preempted inside (6000 → 6400), a short I/O exit (7000 → 7010) and an
 * EPT exit the trace cuts (no entry: not counted).
 */
static void add_vm_a_rows(GArray *rows)
{
	struct vmt_vcpu_row *row;

	add_row(rows, "aaaa", 0, VMT_VCPU_STATE_RUNNING, 1000, 2000, -1);
	add_row(rows, "aaaa", 0, VMT_VCPU_STATE_HYPERVISOR, 2000, 2100, 12);
	add_row(rows, "aaaa", 0, VMT_VCPU_STATE_IDLE, 2100, 5000, 12);
	add_row(rows, "aaaa", 0, VMT_VCPU_STATE_HYPERVISOR, 5000, 5200, 12);
	add_row(rows, "aaaa", 0, VMT_VCPU_STATE_RUNNING, 5200, 6000, -1);
	add_row(rows, "aaaa", 0, VMT_VCPU_STATE_HYPERVISOR, 6000, 6050, 30);
	row = add_row(rows, "aaaa", 0, VMT_VCPU_STATE_PREEMPTED, 6050, 6350, -1);
	row->preempted_by_tid = 200;
	row->preempted_by_comm = "kw,ork\"er";
	row->guest_tid = 7;
	row->guest_comm = "bash";
	add_row(rows, "aaaa", 0, VMT_VCPU_STATE_HYPERVISOR, 6350, 6400, 30);
	add_row(rows, "aaaa", 0, VMT_VCPU_STATE_RUNNING, 6400, 7000, -1);
	add_row(rows, "aaaa", 0, VMT_VCPU_STATE_HYPERVISOR, 7000, 7010, 30);
	add_row(rows, "aaaa", 0, VMT_VCPU_STATE_RUNNING, 7010, 8000, -1);
	add_row(rows, "aaaa", 0, VMT_VCPU_STATE_HYPERVISOR, 8000, 8100, 48);
	row = add_row(rows, "aaaa", 0, VMT_VCPU_STATE_PREEMPTED, 8100, 8600, -1);
	row->preempted_by_tid = 300;
	row->preempted_by_comm = "CPU 1/KVM";
	row->preempted_by_vm = "bbbb";
	row->preempted_by_vcpu = 1;
	row->guest_tid = 8;
	row->guest_comm = "nginx";
	add_row(rows, "aaaa", 0, VMT_VCPU_STATE_HYPERVISOR, 8600, 8700, 48);
}

/*
 * VM b, vCPU 1, from 0: 100 preemptions of 10, 20, ..., 1000 ns in a
 * shuffled order ((37 i mod 100 + 1) * 10), each between two 10 ns runs and
 * without a hypervisor row (switch-out at the exit's time): 100 exits of
 * unknown reason. Returns the begin of the 1000 ns one (i = 27).
 */
static int64_t add_vm_b_rows(GArray *rows)
{
	struct vmt_vcpu_row *row;
	int64_t t = 0, length, longest_begin = -1;
	int i;

	for (i = 0; i < 100; i++) {
		add_row(rows, "bbbb", 1, VMT_VCPU_STATE_RUNNING, t, t + 10, -1);
		t += 10;
		length = (37 * i % 100 + 1) * 10;
		row = add_row(rows, "bbbb", 1, VMT_VCPU_STATE_PREEMPTED, t, t + length, -1);
		row->preempted_by_tid = 500;
		row->preempted_by_comm = "str\ness";
		if (length == 1000) {
			longest_begin = t;
		}
		t += length;
	}
	add_row(rows, "bbbb", 1, VMT_VCPU_STATE_RUNNING, t, t + 10, -1);
	return longest_begin;
}

/*
 * The first line of `text` that starts with `header` and the `count` - 1
 * lines after it have the same width: the table's last column is
 * right-aligned, so any misalignment shows there.
 */
static bool is_aligned(const char *text, const char *header, size_t count)
{
	char **lines = g_strsplit(text, "\n", -1);
	bool is_ok = false;
	size_t i, j;

	for (i = 0; lines[i]; i++) {
		if (!g_str_has_prefix(lines[i], header)) {
			continue;
		}
		is_ok = true;
		for (j = 1; j < count; j++) {
			if (!lines[i + j] ||
			    g_utf8_strlen(lines[i + j], -1) != g_utf8_strlen(lines[i], -1)) {
				is_ok = false;
				break;
			}
		}
		break;
	}
	g_strfreev(lines);
	return is_ok;
}

static void test_text_vcpu(void)
{
	GArray *rows = g_array_new(FALSE, FALSE, sizeof(struct vmt_vcpu_row));
	int64_t longest_begin;
	char *output, *expected;

	add_vm_a_rows(rows);
	longest_begin = add_vm_b_rows(rows);
	output = write_vcpu_rows(VMT_WRITER_FORMAT_TEXT, (struct vmt_vcpu_row *) rows->data,
				 rows->len, NULL);
	check_line(output, "vCPU states:", "vCPU states: 2 VMs, 2 vCPUs, 215 intervals");
	check_line(output, "vm-a 0", "vm-a 0 100 7.700 µs 44.03% 7.92% 10.39% 37.66% 0.00% 2 3");
	check_line(output, "running 3.390", "running 3.390 µs 44.03%");
	check_line(output, "hypervisor 610", "hypervisor 610 ns 7.92%");
	check_line(output, "preempted 800", "preempted 800 ns 10.39%");
	check_line(output, "idle 2.900", "idle 2.900 µs 37.66%");
	check_line(output, "preemptions: 2", "preemptions: 2, p50 300 ns, p99 500 ns, max 500 ns");
	check_line(output, "300 CPU", "300 CPU 1/KVM vm-b vCPU 1 1 500 ns 62.50%");
	check_line(output, "200 kw", "200 kw,ork\"er 1 300 ns 37.50%");
	check_line(output, "IO_INSTRUCTION", "IO_INSTRUCTION 2 66.67% 11.36% 10 ns 400 ns 205 ns");
	check_line(output, "HLT", "HLT 1 33.33% 88.64% 3.200 µs 3.200 µs 3.200 µs");
	check_line(output, "Total Samples: 3",
		   "Total Samples: 3, Total events handled time: 3.610 µs");
	OK(strstr(output, "EPT_VIOLATION") == NULL, "an exit without entry is not counted");
	check_line(output, "preemptions: 100",
		   "preemptions: 100, p50 500 ns, p99 990 ns, max 1.000 µs");
	check_line(output, "unknown", "unknown 100 100.00% 100.00% 10 ns 1.000 µs 505 ns");
	check_line(output, "500 str", "500 str\\ness 100 50.500 µs 100.00%");
	expected = g_strdup_printf("%" PRId64 " +0.%09" PRId64 " s 1.000 µs vm-b 1 500 str\\ness",
				   longest_begin, longest_begin);
	check_line(output, "begin_ns",
		   "begin_ns from start duration VM vCPU preempted by guest thread");
	check_line(output, expected, expected);
	check_line(output, "Longest", "Longest preemptions (top 10)");
	OK(strstr(output, "nginx") == NULL, "vm-a's preemptions are not among the 10 longest");
	OK(is_aligned(output, "  VM-EXIT", 3), "exit table columns are aligned");
	OK(is_aligned(output, "VM ", 3), "summary table columns are aligned");
	OK(is_aligned(output, "  state ", 6), "state table columns are aligned");
	g_free(expected);
	free(output);
	g_array_unref(rows);
}

/* Short exits of SVM codes: named the SVM way unless told otherwise. */
static void test_text_exit_names(void)
{
	GArray *rows = g_array_new(FALSE, FALSE, sizeof(struct vmt_vcpu_row));
	struct memout out;
	struct vmt_writer *writer;
	char *output;
	guint i;

	add_row(rows, "aaaa", 0, VMT_VCPU_STATE_RUNNING, 0, 10, -1);
	add_row(rows, "aaaa", 0, VMT_VCPU_STATE_HYPERVISOR, 10, 20, 0x78);
	add_row(rows, "aaaa", 0, VMT_VCPU_STATE_RUNNING, 20, 30, -1);
	add_row(rows, "aaaa", 0, VMT_VCPU_STATE_HYPERVISOR, 30, 35, 0x4e);
	add_row(rows, "aaaa", 0, VMT_VCPU_STATE_RUNNING, 35, 40, -1);
	output = write_vcpu_rows(VMT_WRITER_FORMAT_TEXT, (struct vmt_vcpu_row *) rows->data,
				 rows->len, NULL);
	check_line(output, "hlt", "hlt 1 50.00% 66.67% 10 ns 10 ns 10 ns");
	check_line(output, "PF excp", "PF excp 1 50.00% 33.33% 5 ns 5 ns 5 ns");
	free(output);
	writer = open_writer(&out, VMT_WRITER_FORMAT_TEXT, VMT_WRITER_VIEW_VCPU);
	vmt_writer_set_exit_isa(writer, VMT_WRITER_EXIT_ISA_VMX);
	for (i = 0; i < rows->len; i++) {
		vmt_writer_write_vcpu_row(writer, &g_array_index(rows, struct vmt_vcpu_row, i));
	}
	output = close_writer(&out, writer);
	check_line(output, "reason 120", "reason 120 1 50.00% 66.67% 10 ns 10 ns 10 ns");
	check_line(output, "NOTIFY", "(no such line)");
	free(output);
	g_array_unref(rows);
}

/*
 * CPU 0 over 1000 ns: bash 100, vm-a's vCPU 0 in the hypervisor 50 and in
 * guest mode 250, swapper 600. CPU 1: one host row with a hostile comm
 * (a newline, a C1 CSI, ill-formed UTF-8), escaped for the terminal.
 */
static void test_text_pcpu(void)
{
	struct vmt_pcpu_row rows[5];
	char *output;

	rows[0] = pcpu_row(0, VMT_PCPU_LEVEL_HOST, 0, 100, 10, "bash");
	rows[1] = pcpu_row(0, VMT_PCPU_LEVEL_HYPERVISOR, 100, 150, 4242, "CPU 0/KVM");
	rows[1].vm_uuid = "aaaa";
	rows[1].vm_name = "vm-a";
	rows[1].vcpu = 0;
	rows[2] = rows[1];
	rows[2].level = VMT_PCPU_LEVEL_GUEST;
	rows[2].begin_ns = 150;
	rows[2].end_ns = 400;
	rows[3] = pcpu_row(0, VMT_PCPU_LEVEL_HOST, 400, 1000, 0, "swapper/0");
	rows[4] = pcpu_row(1, VMT_PCPU_LEVEL_HOST, 0, 2000, 11, "a\nb\xc2\x9b" COMM_BAD);
	output = write_pcpu_rows(VMT_WRITER_FORMAT_TEXT, rows, 5);
	check_line(output, "pCPU levels:", "pCPU levels: 2 CPUs, 5 intervals");
	check_line(output, "0 1.000 µs", "0 1.000 µs 70.00% 5.00% 25.00%");
	check_line(output, "CPU 0:", "CPU 0: 1.000 µs observed, 4 intervals");
	check_line(output, "host 700", "host 700 ns 70.00%");
	check_line(output, "hypervisor 50", "hypervisor 50 ns 5.00%");
	check_line(output, "guest 250", "guest 250 ns 25.00%");
	check_line(output, "vm-a", "vm-a 250 ns 25.00% 50 ns 5.00%");
	check_line(output, "0 swapper/0", "0 swapper/0 600 ns 60.00%");
	check_line(output, "10 bash", "10 bash 100 ns 10.00%");
	check_line(output, "11 a", "11 a\\nb\\u009bbad" FFFD FFFD " 2.000 µs 100.00%");
	OK(is_aligned(output, "  VM ", 2), "VM table columns are aligned");
	OK(is_aligned(output, "CPU ", 3), "pCPU summary columns are aligned");
	free(output);
}

static void test_text_empty(void)
{
	char *output = write_vcpu_rows(VMT_WRITER_FORMAT_TEXT, NULL, 0, NULL);

	IS_STR(output, "vCPU states: no intervals.\n", "text report without rows");
	free(output);
	output = write_pcpu_rows(VMT_WRITER_FORMAT_TEXT, NULL, 0);
	IS_STR(output, "pCPU levels: no intervals.\n", "pCPU text report without rows");
	free(output);
}

/* Takes the current thread's error and checks its first cause names `fragment`. */
static void check_error_cause(const char *fragment, const char *what)
{
	const bt_error *error = bt_current_thread_take_error();
	const char *message = "";

	if (error && bt_error_get_cause_count(error) > 0) {
		message = bt_error_cause_get_message(bt_error_borrow_cause_by_index(error, 0));
	}
	OK(strstr(message, fragment) != NULL, "%s: cause \"%s\"", what, message);
	if (error) {
		bt_error_release(error);
	}
}

/* /dev/full: the stdio buffer hides the failure until it is written out. */
static void test_io_errors(void)
{
	FILE *full = fopen("/dev/full", "w");
	struct vmt_vcpu_row rows[5];
	struct vmt_writer *writer;
	enum vmt_status status = VMT_STATUS_OK;
	int i;

	if (!OK(full != NULL, "/dev/full opens")) {
		return;
	}
	sample_vcpu_rows(rows);
	writer = vmt_writer_create(VMT_WRITER_FORMAT_CSV, VMT_WRITER_VIEW_VCPU, full, &quiet_log);
	IS_I64(vmt_writer_write_vcpu_row(writer, &rows[0]), VMT_STATUS_OK, "a buffered row");
	IS_I64(vmt_writer_finish(writer), VMT_STATUS_ERROR, "a full disk fails the finish");
	check_error_cause("Cannot", "finish");
	vmt_writer_destroy(writer);
	clearerr(full);
	writer = vmt_writer_create(VMT_WRITER_FORMAT_JSONL, VMT_WRITER_VIEW_VCPU, full, &quiet_log);
	for (i = 0; i < 10000 && status == VMT_STATUS_OK; i++) {
		status = vmt_writer_write_vcpu_row(writer, &rows[i % 5]);
	}
	IS_I64(status, VMT_STATUS_ERROR, "a full disk fails a write once the buffer fills");
	OK(i < 10000, "the failure shows within a few buffers (row %d)", i);
	check_error_cause("No space left on device", "write");
	IS_I64(vmt_writer_write_vcpu_row(writer, &rows[0]), VMT_STATUS_ERROR,
	       "the writer stays failed");
	check_error_cause("failed before", "later write");
	IS_I64(vmt_writer_finish(writer), VMT_STATUS_ERROR, "and so does its finish");
	check_error_cause("failed before", "finish after failure");
	vmt_writer_destroy(writer);
	fclose(full);
}

static void test_formats(void)
{
	static const char *const names[] = { "text", "csv", "jsonl", "chrome" };
	enum vmt_writer_format format = VMT_WRITER_FORMAT_TEXT;
	size_t i;

	for (i = 0; i < VMT_ARRAY_SIZE(names); i++) {
		OK(vmt_writer_parse_format(names[i], &format) &&
			   strcmp(vmt_writer_format_name(format), names[i]) == 0,
		   "format \"%s\" parses and round-trips", names[i]);
	}
	OK(!vmt_writer_parse_format("CSV", &format), "format names are case-sensitive");
	OK(!vmt_writer_parse_format("", &format), "empty format rejected");
	OK(!vmt_writer_parse_format(NULL, &format), "NULL format rejected");
	IS_STR(vmt_vcpu_state_name(VMT_VCPU_STATE_BLOCKED), "blocked", "state name");
	IS_STR(vmt_vcpu_state_name((enum vmt_vcpu_state) 9), NULL, "state out of range");
	IS_STR(vmt_pcpu_level_name(VMT_PCPU_LEVEL_HYPERVISOR), "hypervisor", "level name");
	IS_STR(vmt_pcpu_level_name((enum vmt_pcpu_level) 3), NULL, "level out of range");
}

/* Maximal subparts (Unicode §3.9), as Python's and WHATWG's decoders replace them. */
static void test_utf8(void)
{
	static const struct {
		const char *input;
		const char *expected;
	} cases[] = {
		{ "\xc3\xa9", "\xc3\xa9" },	    { "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },
		{ "\xc0\xaf", FFFD FFFD },	    { "\xe0\x80\x80", FFFD FFFD FFFD },
		{ "\xed\xa0\x80", FFFD FFFD FFFD }, { "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD },
		{ "\xf0\x9f\x98", FFFD },	    { "\xe2\x82z", FFFD "z" },
		{ "\xf5\x80", FFFD FFFD },	    { "\x80\xbf", FFFD FFFD },
	};
	GString *buf = g_string_new(NULL);
	size_t i;

	for (i = 0; i < VMT_ARRAY_SIZE(cases); i++) {
		g_string_truncate(buf, 0);
		vmt_writer_append_utf8(buf, cases[i].input, NULL);
		OK(strcmp(buf->str, cases[i].expected) == 0, "UTF-8 repair, case %zu", i);
	}
	g_string_truncate(buf, 0);
	vmt_writer_append_i64(buf, INT64_MIN);
	IS_STR(buf->str, "-9223372036854775808", "INT64_MIN in decimal");
	g_string_free(buf, TRUE);
}

/* Dump mode: what the command line asked for. */
struct dump_options {
	enum vmt_writer_format format;
	enum vmt_writer_view view;
	bool has_origin;
	int64_t origin_ns;
	enum vmt_writer_exit_isa isa;
	const char *out_path;
};

static bool parse_i64(const char *token, int64_t *value)
{
	char *end;

	errno = 0;
	*value = g_ascii_strtoll(token, &end, 10);
	return errno == 0 && end != token && *end == '\0';
}

/* "-" is NULL, "x<hex>" the bytes; the result goes to `strings` (owned). */
static bool decode_string(const char *token, const char **value, GPtrArray *strings)
{
	size_t length = strlen(token), i;
	char *bytes;

	if (strcmp(token, "-") == 0) {
		*value = NULL;
		return true;
	}
	if (token[0] != 'x' || length % 2 == 0) {
		return false;
	}
	bytes = g_malloc0(length / 2 + 1);
	g_ptr_array_add(strings, bytes);
	for (i = 0; i < length / 2; i++) {
		if (!g_ascii_isxdigit(token[1 + 2 * i]) || !g_ascii_isxdigit(token[2 + 2 * i])) {
			return false;
		}
		bytes[i] = (char) (g_ascii_xdigit_value(token[1 + 2 * i]) * 16 +
				   g_ascii_xdigit_value(token[2 + 2 * i]));
	}
	*value = bytes;
	return true;
}

static bool parse_vcpu_line(char **t, struct vmt_vcpu_row *row, GPtrArray *strings)
{
	int state;

	if (g_strv_length(t) != 15) {
		return false;
	}
	for (state = 0; state < VMT_VCPU_STATE_COUNT; state++) {
		if (strcmp(t[3], vmt_vcpu_state_name(state)) == 0) {
			row->state = state;
			break;
		}
	}
	return state < VMT_VCPU_STATE_COUNT && decode_string(t[0], &row->vm_uuid, strings) &&
	       decode_string(t[1], &row->vm_name, strings) && parse_i64(t[2], &row->vcpu) &&
	       parse_i64(t[4], &row->begin_ns) && parse_i64(t[5], &row->end_ns) &&
	       parse_i64(t[6], &row->host_tid) && parse_i64(t[7], &row->pcpu) &&
	       parse_i64(t[8], &row->exit_reason) && parse_i64(t[9], &row->preempted_by_tid) &&
	       decode_string(t[10], &row->preempted_by_comm, strings) &&
	       decode_string(t[11], &row->preempted_by_vm, strings) &&
	       parse_i64(t[12], &row->preempted_by_vcpu) && parse_i64(t[13], &row->guest_tid) &&
	       decode_string(t[14], &row->guest_comm, strings);
}

static bool parse_pcpu_line(char **t, struct vmt_pcpu_row *row, GPtrArray *strings)
{
	int level;

	if (g_strv_length(t) != 11) {
		return false;
	}
	for (level = 0; level < 3; level++) {
		if (strcmp(t[3], vmt_pcpu_level_name(level)) == 0) {
			row->level = level;
			break;
		}
	}
	return level < 3 && parse_i64(t[0], &row->pcpu) && parse_i64(t[1], &row->begin_ns) &&
	       parse_i64(t[2], &row->end_ns) && parse_i64(t[4], &row->host_tid) &&
	       decode_string(t[5], &row->host_comm, strings) &&
	       decode_string(t[6], &row->vm_uuid, strings) &&
	       decode_string(t[7], &row->vm_name, strings) && parse_i64(t[8], &row->vcpu) &&
	       parse_i64(t[9], &row->guest_tid) && decode_string(t[10], &row->guest_comm, strings);
}

/* Parses and writes one input line; false on a malformed line. */
static bool dump_line(struct vmt_writer *writer, enum vmt_writer_view view, const char *line,
		      enum vmt_status *status)
{
	GPtrArray *strings = g_ptr_array_new_with_free_func(g_free);
	char **tokens = g_strsplit(line, " ", -1);
	struct vmt_vcpu_row vcpu = { 0 };
	struct vmt_pcpu_row pcpu = { 0 };
	bool is_ok;

	if (view == VMT_WRITER_VIEW_VCPU) {
		is_ok = parse_vcpu_line(tokens, &vcpu, strings);
		*status = is_ok ? vmt_writer_write_vcpu_row(writer, &vcpu) : VMT_STATUS_OK;
	} else {
		is_ok = parse_pcpu_line(tokens, &pcpu, strings);
		*status = is_ok ? vmt_writer_write_pcpu_row(writer, &pcpu) : VMT_STATUS_OK;
	}
	g_strfreev(tokens);
	g_ptr_array_unref(strings);
	return is_ok;
}

static bool parse_dump_options(int argc, char **argv, struct dump_options *options)
{
	int i;

	if (argc < 4 || strcmp(argv[1], "--dump") != 0 ||
	    !vmt_writer_parse_format(argv[2], &options->format)) {
		return false;
	}
	if (strcmp(argv[3], "vcpu") != 0 && strcmp(argv[3], "pcpu") != 0) {
		return false;
	}
	options->view = strcmp(argv[3], "vcpu") == 0 ? VMT_WRITER_VIEW_VCPU : VMT_WRITER_VIEW_PCPU;
	for (i = 4; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--origin") == 0) {
			options->has_origin = parse_i64(argv[i + 1], &options->origin_ns);
		} else if (strcmp(argv[i], "--isa") == 0) {
			options->isa = strcmp(argv[i + 1], "svm") == 0 ? VMT_WRITER_EXIT_ISA_SVM :
									 VMT_WRITER_EXIT_ISA_VMX;
		} else if (strcmp(argv[i], "--out") == 0) {
			options->out_path = argv[i + 1];
		} else {
			return false;
		}
	}
	return i == argc;
}

static enum vmt_status dump_rows(struct vmt_writer *writer, enum vmt_writer_view view)
{
	enum vmt_status status = VMT_STATUS_OK;
	char *line = NULL;
	size_t capacity = 0;
	ssize_t length;

	while (status == VMT_STATUS_OK && (length = getline(&line, &capacity, stdin)) > 0) {
		if (line[length - 1] == '\n') {
			line[length - 1] = '\0';
		}
		if (!dump_line(writer, view, line, &status)) {
			fprintf(stderr, "test-writers: malformed row: %s\n", line);
			status = VMT_STATUS_ERROR;
		}
	}
	free(line);
	return status;
}

static int run_dump(int argc, char **argv)
{
	struct vmt_log_ctx log = VMT_LOG_CTX_INIT_STANDALONE(BT_LOGGING_LEVEL_WARNING);
	struct dump_options options = { .isa = VMT_WRITER_EXIT_ISA_AUTO };
	struct vmt_writer *writer;
	enum vmt_status status;
	FILE *out;

	if (!parse_dump_options(argc, argv, &options)) {
		fprintf(stderr, "usage: test-writers [--dump FORMAT vcpu|pcpu [--origin NS] "
				"[--isa vmx|svm] [--out PATH]]\n");
		return 2;
	}
	out = options.out_path ? fopen(options.out_path, "w") : stdout;
	if (!out) {
		perror(options.out_path);
		return 2;
	}
	writer = vmt_writer_create(options.format, options.view, out, &log);
	if (options.has_origin) {
		vmt_writer_set_time_origin(writer, options.origin_ns);
	}
	vmt_writer_set_exit_isa(writer, options.isa);
	status = dump_rows(writer, options.view);
	if (status == VMT_STATUS_OK) {
		status = vmt_writer_finish(writer);
	}
	vmt_writer_destroy(writer);
	if (out != stdout) {
		fclose(out);
	}
	bt_current_thread_clear_error();
	return status == VMT_STATUS_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		return run_dump(argc, argv);
	}
	test_formats();
	test_utf8();
	test_csv();
	test_jsonl();
	test_chrome_vcpu();
	test_chrome_pcpu();
	test_text_vcpu();
	test_text_exit_names();
	test_text_pcpu();
	test_text_empty();
	test_io_errors();
	return tap_done();
}
