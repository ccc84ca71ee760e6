/* SPDX-License-Identifier: MIT */
/*
 * vmsim's command line: options, scenario and knobs, then the run (the
 * graph writing the traces, the truth model fed as events are released),
 * then the truth files.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "vmsim.h"

static void print_usage(FILE *out)
{
	fputs("Usage: vmsim --out DIR [--scenario NAME] [--seed N] [--duration-ms N]\n"
	      "             [--target-events N] [--truth=full|summary|none]\n"
	      "             [--set KEY=VALUE]...\n\n"
	      "Simulates a KVM host and its guests and writes LTTng 2.13-like CTF traces\n"
	      "(DIR/traces/<hostname>/<session>-<datetime>/kernel, .../ust/uid/0/64-bit)\n"
	      "through sink.ctf.fs, and the ground truth of docs/semantics.md (DIR/truth/):\n"
	      "  scenario.json          knobs, seed, event counts, machines, VMs, clocks\n"
	      "  vcpu-intervals.csv     SPEC section 5 rows (full truth only)\n"
	      "  pcpu-intervals.csv     semantics section 6 rows (full truth only)\n"
	      "  guest-events/<host>.csv  every guest event with its expected tags\n\n"
	      "Options:\n"
	      "  --out DIR            output directory (DIR/traces must not exist)\n"
	      "  --scenario NAME      scenario preset (below), default sample\n"
	      "  --seed N             same as --set seed=N\n"
	      "  --duration-ms N      same as --set duration_ms=N\n"
	      "  --target-events N    same as --set target_events=N\n"
	      "  --truth=MODE         full (default), summary (scenario.json only), none\n"
	      "  --set KEY=VALUE      override a knob (repeatable, applied in order)\n"
	      "  --help               this text\n\n"
	      "Deterministic: the same seed and knobs give identical traces and truth.\n"
	      "See tools/vmsim/README.md for the model and the truth formats.\n\n",
	      out);
	vmsim_knobs_print_help(out);
}

/* Value of `--name VALUE` or `--name=VALUE` at argv[*i]; NULL if not this option. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, bool *missing)
{
	size_t len = strlen(name);

	if (strncmp(argv[*i], name, len) != 0) {
		return NULL;
	}
	if (argv[*i][len] == '=') {
		return argv[*i] + len + 1;
	}
	if (argv[*i][len] != '\0') {
		return NULL;
	}
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

static bool set_knob(struct vmsim *sim, const char *key, const char *value)
{
	gchar *a = g_strdup_printf("%s=%s", key, value);
	bool ok = vmsim_knobs_set(&sim->k, a);

	g_free(a);
	return ok;
}

/* First pass: where, which scenario, which truth. */
static bool parse_globals(struct vmsim *sim, int argc, char **argv, bool *help)
{
	bool missing = false;

	for (int i = 1; i < argc; i++) {
		const char *v;

		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			*help = true;
		} else if ((v = opt_value(argc, argv, &i, "--out", &missing))) {
			g_free(sim->out_dir);
			sim->out_dir = g_strdup(v);
		} else if ((v = opt_value(argc, argv, &i, "--scenario", &missing))) {
			g_free(sim->scenario);
			sim->scenario = g_strdup(v);
		} else if ((v = opt_value(argc, argv, &i, "--truth", &missing))) {
			sim->truth_mode = !strcmp(v, "full")	? 2 :
					  !strcmp(v, "summary") ? 1 :
					  !strcmp(v, "none")	? 0 :
								  -1;
			if (sim->truth_mode < 0) {
				fprintf(stderr, "vmsim: --truth takes full, summary or none\n");
				return false;
			}
		}
		if (missing) {
			fprintf(stderr, "vmsim: %s needs a value\n", argv[i]);
			return false;
		}
	}
	return true;
}

/* Second pass: knob overrides in command-line order. */
static bool parse_overrides(struct vmsim *sim, int argc, char **argv)
{
	static const char *const opts[][2] = { { "--seed", "seed" },
					       { "--duration-ms", "duration_ms" },
					       { "--target-events", "target_events" } };
	bool missing = false;

	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		bool known = false;

		for (size_t o = 0; o < G_N_ELEMENTS(opts) && !known; o++) {
			if ((v = opt_value(argc, argv, &i, opts[o][0], &missing))) {
				known = true;
				if (!set_knob(sim, opts[o][1], v)) {
					return false;
				}
			}
		}
		if (!known && (v = opt_value(argc, argv, &i, "--set", &missing))) {
			known = true;
			if (!vmsim_knobs_set(&sim->k, v)) {
				return false;
			}
		}
		if (!known && !missing) {
			bool skip = false;

			known = opt_value(argc, argv, &i, "--out", &skip) ||
				opt_value(argc, argv, &i, "--scenario", &skip) ||
				opt_value(argc, argv, &i, "--truth", &skip) ||
				!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");
		}
		if (missing || !known) {
			fprintf(stderr, "vmsim: bad argument \"%s\" (see --help)\n", argv[i]);
			return false;
		}
	}
	return true;
}

static bool prepare_out_dir(const struct vmsim *sim)
{
	gchar *traces = g_build_filename(sim->out_dir, "traces", NULL);
	bool ok = true;

	if (g_file_test(traces, G_FILE_TEST_EXISTS)) {
		fprintf(stderr, "vmsim: %s already exists\n", traces);
		ok = false;
	} else if (g_mkdir_with_parents(sim->out_dir, 0755) != 0) {
		fprintf(stderr, "vmsim: cannot create %s: %s\n", sim->out_dir, g_strerror(errno));
		ok = false;
	}
	g_free(traces);
	return ok;
}

/* Checks that sink.ctf.fs wrote every trace where scenario.json says. */
static bool check_layout(const struct vmsim *sim)
{
	for (int i = 0; i < sim->ntraces; i++) {
		const struct vmsim_trace *tr = sim->traces[i];
		gchar *meta;
		bool ok;

		if (!tr->begun) {
			continue;
		}
		meta = g_build_filename(sim->out_dir, "traces", tr->rel_path, "metadata", NULL);
		ok = g_file_test(meta, G_FILE_TEST_IS_REGULAR);
		if (!ok) {
			fprintf(stderr, "vmsim: expected trace metadata missing: %s\n", meta);
		}
		g_free(meta);
		if (!ok) {
			return false;
		}
	}
	return true;
}

static bool run(struct vmsim *sim)
{
	if (!prepare_out_dir(sim) || !vmsim_world_build(sim)) {
		return false;
	}
	if (sim->truth_mode == 2) {
		sim->truth = vmsim_truth_create(sim);
		if (!sim->truth) {
			return false;
		}
	}
	vmsim_sched_start(sim);
	if (!vmsim_graph_run(sim) || !check_layout(sim)) {
		return false;
	}
	if (sim->truth_mode >= 1 && !vmsim_truth_write_json(sim)) {
		return false;
	}
	return sim->truth_mode < 2 || vmsim_truth_write_csvs(sim);
}

static void cleanup(struct vmsim *sim)
{
	if (sim->truth) {
		vmsim_truth_destroy(sim->truth);
	}
	if (sim->timers) {
		g_array_free(sim->timers, TRUE);
	}
	if (sim->heap) {
		g_array_free(sim->heap, TRUE);
	}
	if (sim->runq) {
		g_ptr_array_free(sim->runq, TRUE);
	}
	vmsim_world_destroy(sim);
	vmsim_knobs_fini(&sim->k);
	g_free(sim->out_dir);
	g_free(sim->scenario);
}

int main(int argc, char **argv)
{
	struct vmsim *sim = g_new0(struct vmsim, 1);
	bool help = false;
	int ret = 2;

	sim->truth_mode = 2;
	sim->scenario = g_strdup("sample");
	vmsim_knobs_init(&sim->k);
	if (!parse_globals(sim, argc, argv, &help)) {
		goto end;
	}
	if (help) {
		print_usage(stdout);
		ret = 0;
		goto end;
	}
	if (!sim->out_dir) {
		fprintf(stderr, "vmsim: --out DIR is required (see --help)\n");
		goto end;
	}
	if (!vmsim_knobs_apply_scenario(&sim->k, sim->scenario) ||
	    !parse_overrides(sim, argc, argv)) {
		goto end;
	}
	ret = run(sim) ? 0 : 1;
end:
	cleanup(sim);
	g_free(sim);
	return ret;
}
