/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the `text` report: aligned tables, human durations and
 * shares, display-safe strings and exit reason names.
 */
#define VMT_LOG_TAG "VMTRACE/WRITER-TEXT"
#include "lib/log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "lib/writer-internal.h"
#include "lib/writer-text.h"

/*
 * VMX basic exit reasons, indexed by reason, with the names of the kernel's
 * `VMX_EXIT_REASONS` (arch/x86/include/uapi/asm/vmx.h), which `perf kvm
 * stat` prints.
 */
static const char *const vmx_exit_names[] = {
	[0] = "EXCEPTION_NMI",
	[1] = "EXTERNAL_INTERRUPT",
	[2] = "TRIPLE_FAULT",
	[3] = "INIT_SIGNAL",
	[4] = "SIPI_SIGNAL",
	[7] = "INTERRUPT_WINDOW",
	[8] = "NMI_WINDOW",
	[9] = "TASK_SWITCH",
	[10] = "CPUID",
	[12] = "HLT",
	[13] = "INVD",
	[14] = "INVLPG",
	[15] = "RDPMC",
	[16] = "RDTSC",
	[18] = "VMCALL",
	[19] = "VMCLEAR",
	[20] = "VMLAUNCH",
	[21] = "VMPTRLD",
	[22] = "VMPTRST",
	[23] = "VMREAD",
	[24] = "VMRESUME",
	[25] = "VMWRITE",
	[26] = "VMOFF",
	[27] = "VMON",
	[28] = "CR_ACCESS",
	[29] = "DR_ACCESS",
	[30] = "IO_INSTRUCTION",
	[31] = "MSR_READ",
	[32] = "MSR_WRITE",
	[33] = "INVALID_STATE",
	[34] = "MSR_LOAD_FAIL",
	[36] = "MWAIT_INSTRUCTION",
	[37] = "MONITOR_TRAP_FLAG",
	[39] = "MONITOR_INSTRUCTION",
	[40] = "PAUSE_INSTRUCTION",
	[41] = "MCE_DURING_VMENTRY",
	[43] = "TPR_BELOW_THRESHOLD",
	[44] = "APIC_ACCESS",
	[45] = "EOI_INDUCED",
	[46] = "GDTR_IDTR",
	[47] = "LDTR_TR",
	[48] = "EPT_VIOLATION",
	[49] = "EPT_MISCONFIG",
	[50] = "INVEPT",
	[51] = "RDTSCP",
	[52] = "PREEMPTION_TIMER",
	[53] = "INVVPID",
	[54] = "WBINVD",
	[55] = "XSETBV",
	[56] = "APIC_WRITE",
	[57] = "RDRAND",
	[58] = "INVPCID",
	[59] = "VMFUNC",
	[60] = "ENCLS",
	[61] = "RDSEED",
	[62] = "PML_FULL",
	[63] = "XSAVES",
	[64] = "XRSTORS",
	[67] = "UMWAIT",
	[68] = "TPAUSE",
	[74] = "BUS_LOCK",
	[75] = "NOTIFY",
};

struct svm_exit_name {
	int64_t code;
	const char *name;
};

/*
 * SVM exit codes with the kernel's `SVM_EXIT_REASONS` names
 * (arch/x86/include/uapi/asm/svm.h), sorted by code for `bsearch()`.
 * Exceptions (0x40 + vector) are named by `svm_exception_name()`.
 */
static const struct svm_exit_name svm_exit_names[] = {
	{ 0x000, "read_cr0" },
	{ 0x002, "read_cr2" },
	{ 0x003, "read_cr3" },
	{ 0x004, "read_cr4" },
	{ 0x008, "read_cr8" },
	{ 0x010, "write_cr0" },
	{ 0x012, "write_cr2" },
	{ 0x013, "write_cr3" },
	{ 0x014, "write_cr4" },
	{ 0x018, "write_cr8" },
	{ 0x020, "read_dr0" },
	{ 0x021, "read_dr1" },
	{ 0x022, "read_dr2" },
	{ 0x023, "read_dr3" },
	{ 0x027, "read_dr7" },
	{ 0x030, "write_dr0" },
	{ 0x031, "write_dr1" },
	{ 0x032, "write_dr2" },
	{ 0x033, "write_dr3" },
	{ 0x037, "write_dr7" },
	{ 0x060, "interrupt" },
	{ 0x061, "nmi" },
	{ 0x062, "smi" },
	{ 0x063, "init" },
	{ 0x064, "vintr" },
	{ 0x065, "cr0_sel_write" },
	{ 0x06e, "rdtsc" },
	{ 0x06f, "rdpmc" },
	{ 0x070, "pushf" },
	{ 0x071, "popf" },
	{ 0x072, "cpuid" },
	{ 0x073, "rsm" },
	{ 0x074, "iret" },
	{ 0x075, "swint" },
	{ 0x076, "invd" },
	{ 0x077, "pause" },
	{ 0x078, "hlt" },
	{ 0x079, "invlpg" },
	{ 0x07a, "invlpga" },
	{ 0x07b, "io" },
	{ 0x07c, "msr" },
	{ 0x07d, "task_switch" },
	{ 0x07e, "ferr_freeze" },
	{ 0x07f, "shutdown" },
	{ 0x080, "vmrun" },
	{ 0x081, "hypercall" },
	{ 0x082, "vmload" },
	{ 0x083, "vmsave" },
	{ 0x084, "stgi" },
	{ 0x085, "clgi" },
	{ 0x086, "skinit" },
	{ 0x087, "rdtscp" },
	{ 0x088, "icebp" },
	{ 0x089, "wbinvd" },
	{ 0x08a, "monitor" },
	{ 0x08b, "mwait" },
	{ 0x08d, "xsetbv" },
	{ 0x0a2, "invpcid" },
	{ 0x400, "npf" },
	{ 0x401, "avic_incomplete_ipi" },
	{ 0x402, "avic_unaccelerated_access" },
	{ 0x403, "vmgexit" },
};

/* x86 exception mnemonics by vector, as the kernel names SVM exception exits. */
static const char *const exception_names[] = {
	[0] = "DE",  [1] = "DB",  [3] = "BP",  [4] = "OF",  [5] = "BR",	 [6] = "UD",
	[7] = "NM",  [8] = "DF",  [10] = "TS", [11] = "NP", [12] = "SS", [13] = "GP",
	[14] = "PF", [16] = "MF", [17] = "AC", [18] = "MC", [19] = "XF",
};

void vmt_text_table_init(struct vmt_text_table *table, const char *alignment)
{
	table->alignment = alignment;
	table->column_count = (guint) strlen(alignment);
	table->cells = g_ptr_array_new_with_free_func(g_free);
}

void vmt_text_table_fini(struct vmt_text_table *table)
{
	g_clear_pointer(&table->cells, g_ptr_array_unref);
}

void vmt_text_table_add(struct vmt_text_table *table, char *cell)
{
	g_ptr_array_add(table->cells, cell);
}

void vmt_text_table_add_printf(struct vmt_text_table *table, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	g_ptr_array_add(table->cells, g_strdup_vprintf(fmt, args));
	va_end(args);
}

/* Terminal columns of valid UTF-8 `s`: East Asian wide characters take two. */
static size_t display_width(const char *s)
{
	size_t width = 0;
	gunichar c;

	for (; *s; s = g_utf8_next_char(s)) {
		c = g_utf8_get_char(s);
		if (g_unichar_iszerowidth(c)) {
			continue;
		}
		width += g_unichar_iswide(c) ? 2 : 1;
	}
	return width;
}

static void append_padding(GString *buf, size_t count)
{
	for (; count > 0; count--) {
		g_string_append_c(buf, ' ');
	}
}

static void append_table_row(const struct vmt_text_table *table, const size_t *widths, guint first,
			     GString *buf, const char *indent)
{
	size_t line_start = buf->len;
	const char *cell;
	size_t width;
	guint column;

	g_string_append(buf, indent);
	for (column = 0; column < table->column_count; column++) {
		cell = first + column < table->cells->len ? table->cells->pdata[first + column] :
							    "";
		width = display_width(cell);
		if (column > 0) {
			g_string_append(buf, "  ");
		}
		if (table->alignment[column] == 'r') {
			append_padding(buf, widths[column] - width);
		}
		g_string_append(buf, cell);
		if (table->alignment[column] != 'r') {
			append_padding(buf, widths[column] - width);
		}
	}
	/* No trailing blanks: left-aligned or empty cells at the end leave some. */
	while (buf->len > line_start && buf->str[buf->len - 1] == ' ') {
		g_string_truncate(buf, buf->len - 1);
	}
	g_string_append_c(buf, '\n');
}

void vmt_text_table_write(const struct vmt_text_table *table, GString *buf, const char *indent)
{
	size_t *widths = g_new0(size_t, table->column_count);
	size_t width;
	guint i;

	for (i = 0; i < table->cells->len; i++) {
		width = display_width(table->cells->pdata[i]);
		if (width > widths[i % table->column_count]) {
			widths[i % table->column_count] = width;
		}
	}
	for (i = 0; i < table->cells->len; i += table->column_count) {
		append_table_row(table, widths, i, buf, indent);
	}
	g_free(widths);
}

char *vmt_text_duration(int64_t ns)
{
	static const char *const units[] = { "µs", "ms", "s" };
	const char *sign = ns < 0 ? "-" : "";
	uint64_t magnitude = ns < 0 ? -(uint64_t) ns : (uint64_t) ns;
	uint64_t scale = 1000;
	size_t unit = 0;

	if (magnitude < 1000) {
		return g_strdup_printf("%s%" PRIu64 " ns", sign, magnitude);
	}
	/* Integer arithmetic: truncation, never a rounded "1000.000 µs". */
	while (unit + 1 < VMT_ARRAY_SIZE(units) && magnitude >= scale * 1000) {
		scale *= 1000;
		unit++;
	}
	return g_strdup_printf("%s%" PRIu64 ".%03" PRIu64 " %s", sign, magnitude / scale,
			       magnitude % scale / (scale / 1000), units[unit]);
}

char *vmt_text_share(uint64_t part, uint64_t total)
{
	if (total == 0) {
		return g_strdup("-");
	}
	return g_strdup_printf("%.2f%%", 100.0 * (double) part / (double) total);
}

/*
 * C0 and C1 control characters are escaped: raw, they would break lines or
 * start terminal escape sequences (U+009B is CSI on some terminals).
 */
static void escape_text(GString *buf, const unsigned char *sequence, int length)
{
	unsigned char c = sequence[0];

	if (length == 2 && c == 0xc2 && sequence[1] < 0xa0) {
		g_string_append_printf(buf, "\\u%04x", sequence[1]);
	} else if (length > 1) {
		g_string_append_len(buf, (const char *) sequence, length);
	} else if (c == '\n') {
		g_string_append(buf, "\\n");
	} else if (c == '\t') {
		g_string_append(buf, "\\t");
	} else if (c == '\r') {
		g_string_append(buf, "\\r");
	} else if (c < 0x20 || c == 0x7f) {
		g_string_append_printf(buf, "\\x%02x", c);
	} else {
		g_string_append_c(buf, (char) c);
	}
}

char *vmt_text_sanitize(const char *s)
{
	GString *buf = g_string_new(NULL);

	if (s) {
		vmt_writer_append_utf8(buf, s, escape_text);
	}
	return g_string_free(buf, FALSE);
}

char *vmt_text_vm_label(const char *vm_name, const char *vm_uuid)
{
	return vmt_text_sanitize(vm_name && vm_name[0] ? vm_name : vm_uuid);
}

char *vmt_text_thread_label(int64_t tid, const char *comm)
{
	GString *buf = g_string_new(NULL);

	if (tid >= 0) {
		vmt_writer_append_i64(buf, tid);
	}
	if (comm && comm[0]) {
		if (tid >= 0) {
			g_string_append_c(buf, ' ');
		}
		vmt_writer_append_utf8(buf, comm, escape_text);
	}
	if (buf->len == 0) {
		g_string_append_c(buf, '?');
	}
	return g_string_free(buf, FALSE);
}

char *vmt_text_index_label(int64_t index)
{
	return index >= 0 ? g_strdup_printf("%" PRId64, index) : g_strdup("?");
}

char *vmt_text_vcpu_label(GHashTable *vm_names, const char *vm_uuid, int64_t vcpu)
{
	char *vm, *label;

	if (!vm_uuid && vcpu < 0) {
		return g_strdup("");
	}
	vm = vmt_text_vm_label(vm_uuid ? g_hash_table_lookup(vm_names, vm_uuid) : NULL,
			       vm_uuid ? vm_uuid : "?");
	if (vcpu < 0) {
		return vm;
	}
	label = g_strdup_printf("%s vCPU %" PRId64, vm, vcpu);
	g_free(vm);
	return label;
}

static int compare_svm_codes(const void *key, const void *element)
{
	int64_t code = *(const int64_t *) key;
	const struct svm_exit_name *entry = element;

	return code < entry->code ? -1 : code > entry->code;
}

static char *svm_exit_reason_label(int64_t reason)
{
	const struct svm_exit_name *entry;
	int64_t vector = reason - 0x40;

	if (vector >= 0 && vector < 0x20) {
		if ((size_t) vector < VMT_ARRAY_SIZE(exception_names) && exception_names[vector]) {
			return g_strdup_printf("%s excp", exception_names[vector]);
		}
		return g_strdup_printf("excp %" PRId64, vector);
	}
	entry = bsearch(&reason, svm_exit_names, VMT_ARRAY_SIZE(svm_exit_names),
			sizeof(svm_exit_names[0]), compare_svm_codes);
	if (entry) {
		return g_strdup(entry->name);
	}
	return g_strdup_printf("reason 0x%" PRIx64, reason);
}

char *vmt_text_exit_reason_label(int64_t reason, bool is_svm)
{
	if (reason < 0) {
		return g_strdup("unknown");
	}
	if (is_svm) {
		return svm_exit_reason_label(reason);
	}
	if ((uint64_t) reason < VMT_ARRAY_SIZE(vmx_exit_names) && vmx_exit_names[reason]) {
		return g_strdup(vmx_exit_names[reason]);
	}
	return g_strdup_printf("reason %" PRId64, reason);
}

GPtrArray *vmt_text_sorted_values(GHashTable *table, GCompareFunc compare)
{
	GPtrArray *values = g_ptr_array_sized_new(g_hash_table_size(table));
	GHashTableIter iter;
	gpointer value;

	g_hash_table_iter_init(&iter, table);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		g_ptr_array_add(values, value);
	}
	g_ptr_array_sort(values, compare);
	return values;
}
