#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Reproduces the profiles of bench/PROFILE.md: callgrind (instruction counts,
# exact and noise-free) of (a) babeltrace2 -> sink.utils.dummy, (a') the
# same without the host UST trace, and the full chain with sync="clock"
# and sync="hypercall", on a 200 k-event bench trace (seed 1); then the
# per-object and per-component summaries (bench/cgsplit.py).
#
#   bench/profile.sh [EVENTS]          (default 200000; ~2 min on 2 cores)
#
# Output: bench/out/profile-EVENTS/{cg.*.out,*.txt}. Optional: PERF=1 also
# records `perf record -e cpu-clock` of the same runs on the 1 M-event
# trace of bench.py (if it exists) for the time split by object.
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-200000}
build=${VMTRACE_BUILD_DIR:-build}
out=bench/out/profile-$events
traces=$out/traces-run/traces
mkdir -p "$out"
if [ ! -f "$out/traces-run/.complete" ]; then
	rm -rf "$out/traces-run"
	"$build/tools/vmsim" --out "$out/traces-run" --scenario bench --seed 1 \
		--target-events "$events" --truth=summary >/dev/null
	touch "$out/traces-run/.complete"
fi
plugins=$(realpath "$build/plugins")
traces=$(realpath "$traces")
no_ust=()
while IFS= read -r -d '' m; do
	grep -q 'domain = "ust"' "$m" || no_ust+=("$(dirname "$m")")
done < <(find "$traces" -name metadata -print0 | sort -z)

# chain SYNC TRACES: sets CHAIN to the full chain's command line.
chain() {
	CHAIN=(babeltrace2 --plugin-path="$plugins" --component=src:source.vmsync.fs
		--params="inputs=[\"$2\"],sync=\"$1\""
		--component=tag:filter.vmmatch.tag
		--component=out:sink.vmstate.intervals
		--params="format=\"csv\",path=\"$out/vcpu-$1.csv\"")
}
cg() {
	local name=$1
	shift
	valgrind --tool=callgrind --callgrind-out-file="$out/cg.$name.out" "$@" \
		>"$out/valgrind.$name.log" 2>&1
	/usr/bin/python3 bench/cgsplit.py "$out/cg.$name.out" --top 40 >"$out/$name.txt"
	echo "$name: $(head -1 "$out/$name.txt")"
}

cg a babeltrace2 "$traces" -c sink.utils.dummy
cg a0 babeltrace2 "${no_ust[@]}" -c sink.utils.dummy
chain clock "$traces"
cg b "${CHAIN[@]}"
chain hypercall "$traces"
cg c "${CHAIN[@]}"

# Component split of the chain (inclusive costs of the call edges).
for x in b c; do
	/usr/bin/python3 bench/cgsplit.py "$out/cg.$x.out" --top 0 \
		--callees vmstate_comp_consume --callees vmmatch_msg_iter_next \
		--callees vmsync_msg_iter_next --callees sink_consume \
		--callees vmt_intervals_finish --callees append_csv_fields \
		--callees vmt_ir_copy_handle_message --callees fill_event \
		--callees convert_iter_next --callees stream_sink_consume \
		--callers 0x0000000000009f40 >"$out/$x.edges.txt"
done
echo "summaries in $out/*.txt; callgrind_annotate --inclusive=yes $out/cg.b.out for the tree"

if [ "${PERF:-0}" = 1 ] && [ -d bench/out/bench-1000000-seed1/traces ]; then
	traces=$(realpath bench/out/bench-1000000-seed1/traces)
	perf record -q -e cpu-clock -F 2000 -o "$out/perf.a.data" \
		babeltrace2 "$traces" -c sink.utils.dummy
	chain clock "$traces"
	perf record -q -e cpu-clock -F 2000 -o "$out/perf.b.data" "${CHAIN[@]}"
	chain hypercall "$traces"
	perf record -q -e cpu-clock -F 2000 -o "$out/perf.c.data" "${CHAIN[@]}"
	for x in a b c; do
		perf report -i "$out/perf.$x.data" --no-children --sort dso --stdio -g none \
			2>/dev/null | grep -v '^#' | grep -v '^$' >"$out/perf.$x.txt"
		echo "perf $x:"
		head -8 "$out/perf.$x.txt"
	done
fi

# The CSVs are not part of the profile (57 MB each at 1 M events).
rm -f "$out"/vcpu-*.csv
