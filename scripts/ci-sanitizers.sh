#!/usr/bin/env bash
# Sanitizer, memory and fuzzing checks (issue 7), run by .ci/run after the
# plain test suite. Each step prints its time; any failure, and any
# sanitizer report anywhere (even from a process whose test expected a
# failure), exits non-zero.
#
# 1. ASan+UBSan build (build-asan, -DVMTRACE_SANITIZE=ON, gcc) and the whole
#    suite (ctest + pytest) against it. The Python graph tests load the
#    plugins into /usr/bin/python3 and babeltrace2, which are not
#    instrumented: libasan and libubsan are preloaded into every process.
#    Leak checking is off there (CPython, GLib and libbabeltrace2 keep memory
#    at exit); leaks are valgrind's job (step 2). ASan reports go to log
#    files, which must stay empty (so a report fails the run even from a
#    process whose test expected a failure). UBSan errors abort the process
#    (-fno-sanitize-recover, abort_on_error: gcc 12's UBSan ignores
#    log_path next to ASan), which run_cli()/run_python() turn into a test
#    failure. A self-check first proves the wiring: the plugins do need the
#    preloaded runtime, and a UBSan error does end in SIGABRT.
# 2. valgrind memcheck on one full chain (source.vmsync.fs ->
#    filter.vmmatch.tag -> sink.vmstate.intervals) over a simulator sample,
#    with the plain build: no error, no definite leak.
# 3. valgrind helgrind on the hypercall chain, whose sync pass reads its
#    streams on 2 threads (lib/parallel-read.c), over a simulator trace:
#    once whole, once with a guest stream that fails to decode (its error
#    comes back from the worker thread). Any helgrind report fails; only
#    valgrind's own glibc suppressions apply (at the default log level
#    libbabeltrace2 and src.ctf.fs draw no report: see README
#    "Performance").
# 4. libFuzzer targets (build-fuzz, clang), each for a bounded time.
#
# Environment: VMTRACE_PLAIN_BUILD_DIR (default build: the plain build that
# ./tests/run.sh made), FUZZ_SECONDS (default 20 per target),
# SKIP_ASAN / SKIP_VALGRIND / SKIP_HELGRIND / SKIP_FUZZ (=1 to skip a step).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
plain_build=${VMTRACE_PLAIN_BUILD_DIR:-build}
fuzz_seconds=${FUZZ_SECONDS:-20}
work=$(mktemp -d /tmp/vmtrace-ci-sanitizers.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
status=0
ubsan_options="print_stacktrace=1:halt_on_error=1:abort_on_error=1"

step() {
	step_name=$1
	step_start=$(date +%s)
	echo "=== ci-sanitizers: $step_name"
}

step_done() {
	echo "=== ci-sanitizers: $step_name: $1 ($(($(date +%s) - step_start)) s)"
}

# --- 1. ASan + UBSan ---------------------------------------------------------

run_asan() {
	local build=build-asan logs="$work/sanitizer-logs" preload
	step "ASan+UBSan build ($build)"
	cmake -S . -B "$build" -DVMTRACE_SANITIZE=ON >/dev/null
	cmake --build "$build" -j "$(nproc)" >/dev/null
	step_done ok

	step "sanitizer self-check"
	preload="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
	if babeltrace2 --plugin-path="$build/plugins" list-plugins 2>&1 | grep -q vmsync; then
		echo "ci-sanitizers: $build's plugins load without the ASan runtime:" \
			"not instrumented?" >&2
		status=1
	fi
	if ! LD_PRELOAD="$preload" ASAN_OPTIONS=detect_leaks=0 \
		babeltrace2 --plugin-path="$build/plugins" list-plugins 2>&1 | grep -q vmsync; then
		echo "ci-sanitizers: $build's plugins do not load under the preloaded runtime" >&2
		status=1
	fi
	printf '%s\n' '#include <limits.h>' '#include <stdlib.h>' \
		'int main(int c, char **v) { (void) v; return INT_MAX - 1 + c; }' >"$work/ub.c"
	gcc -fsanitize=address,undefined -fno-sanitize-recover=undefined "$work/ub.c" \
		-o "$work/ub"
	set +e
	UBSAN_OPTIONS="$ubsan_options" ASAN_OPTIONS=detect_leaks=0 "$work/ub" x 2>/dev/null
	ub_status=$?
	set -e
	if [ "$ub_status" -ne 134 ]; then
		echo "ci-sanitizers: a UBSan error exits with $ub_status, not SIGABRT" >&2
		status=1
	fi
	step_done "$([ "$status" -eq 0 ] && echo ok || echo FAILED)"

	step "test suite under ASan+UBSan"
	mkdir -p "$logs"
	# Test subprocesses may run as `nobody` (tests/python/test_bad_input.py).
	chmod 1777 "$logs"
	# test_ir_copy's valgrind tests cannot run on ASan binaries (step 2 runs
	# valgrind on the plain build instead).
	if ! env LD_PRELOAD="$preload" \
		ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$logs/asan:detect_stack_use_after_return=1:check_initialization_order=1" \
		UBSAN_OPTIONS="$ubsan_options" \
		VMTRACE_SANITIZER_RUN=1 \
		VMTRACE_BUILD_DIR="$build" VMTRACE_CMAKE_ARGS="-DVMTRACE_SANITIZE=ON" \
		PYTEST_ARGS="--deselect=tests/python/test_ir_copy.py::test_valgrind" \
		./tests/run.sh; then
		echo "ci-sanitizers: the test suite failed under ASan+UBSan" >&2
		status=1
	fi
	if compgen -G "$logs/*" >/dev/null; then
		echo "ci-sanitizers: sanitizer reports (each file is one process):" >&2
		for log in "$logs"/*; do
			echo "--- $log" >&2
			head -60 "$log" >&2
		done
		status=1
		step_done "FAILED: $(ls "$logs" | wc -l) sanitizer report(s)"
	else
		step_done "no sanitizer report"
	fi
}

# --- 2. valgrind ---------------------------------------------------------------

run_valgrind() {
	local plugins="$repo/$plain_build/plugins" vmsim="$repo/$plain_build/tools/vmsim" out
	step "valgrind memcheck, full chain over a simulator sample"
	if [ ! -x "$vmsim" ] || [ ! -e "$plugins/babeltrace-plugin-vmsync.so" ]; then
		echo "ci-sanitizers: $plain_build is not built (run ./tests/run.sh first)" >&2
		status=1
		return
	fi
	"$vmsim" --out "$work/sample" --truth=none >/dev/null
	out="$work/valgrind.log"
	if ! valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		--show-leak-kinds=definite --num-callers=30 --log-file="$out" \
		babeltrace2 --plugin-path="$plugins" \
		-c source.vmsync.fs -p "inputs=[\"$work/sample/traces\"]" \
		-c filter.vmmatch.tag \
		-c sink.vmstate.intervals -p "format=\"csv\",path=\"$work/vcpu.csv\"" \
		>/dev/null 2>"$work/valgrind.stderr"; then
		echo "ci-sanitizers: valgrind found errors or the chain failed:" >&2
		tail -40 "$work/valgrind.stderr" >&2
		grep -A40 -m3 'Invalid\|uninitialised\|definitely lost in' "$out" >&2 || true
		tail -20 "$out" >&2
		status=1
		step_done FAILED
		return
	fi
	grep -E 'ERROR SUMMARY|definitely lost|in use at exit' "$out" || true
	if [ "$(wc -l <"$work/vcpu.csv")" -lt 2 ]; then
		echo "ci-sanitizers: the chain under valgrind wrote no row" >&2
		status=1
	fi
	step_done "$(grep -c . "$work/vcpu.csv") CSV lines, no error"
}

# --- 3. helgrind -----------------------------------------------------------------

# Runs the hypercall chain over $1 under helgrind into log $2; prints babeltrace2's exit code.
helgrind_chain() {
	local traces=$1 log=$2 rc=0
	VMTRACE_PASS_THREADS=2 valgrind --tool=helgrind --error-exitcode=99 --num-callers=30 \
		--log-file="$log" babeltrace2 --plugin-path="$repo/$plain_build/plugins" \
		-c source.vmsync.fs -p "inputs=[\"$traces\"],sync=\"hypercall\"" \
		-c filter.vmmatch.tag \
		-c sink.vmstate.intervals -p "format=\"csv\",path=\"$work/helgrind.csv\"" \
		>/dev/null 2>"$log.stderr" || rc=$?
	echo "$rc"
}

# The stream file that `src.ctf.fs` reads on output port $2 of trace $1
# (ports follow the data files' paths in C order: lib/ctf-graph.c).
port_file() {
	find "$1" -maxdepth 1 -type f -size +0 ! -name metadata ! -name '.*' | LC_ALL=C sort |
		sed -n "$(($2 + 1))p"
}

run_helgrind() {
	local plugins="$repo/$plain_build/plugins" vmsim="$repo/$plain_build/tools/vmsim"
	local rc split trace port stream
	step "valgrind helgrind, hypercall chain with a 2-thread sync pass"
	if [ ! -x "$vmsim" ] || [ ! -e "$plugins/babeltrace-plugin-vmsync.so" ]; then
		echo "ci-sanitizers: $plain_build is not built (run ./tests/run.sh first)" >&2
		status=1
		return
	fi
	"$vmsim" --scenario hypercall --duration-ms 200 --out "$work/hc" --truth=none >/dev/null
	# Without valgrind, at DEBUG: the pass splits its streams over 2 threads.
	split="$work/helgrind-split.log"
	VMTRACE_PASS_THREADS=2 babeltrace2 --plugin-path="$plugins" -c source.vmsync.fs -l DEBUG \
		-p "inputs=[\"$work/hc/traces\"],sync=\"hypercall\"" -c sink.utils.dummy \
		>/dev/null 2>"$split" || true
	if ! grep -q 'Reading the traces: streams=[0-9]*, threads=2' "$split"; then
		echo "ci-sanitizers: the sync pass did not run on 2 threads" >&2
		status=1
	fi
	rc=$(helgrind_chain "$work/hc/traces" "$work/helgrind.log")
	if [ "$rc" -ne 0 ]; then
		echo "ci-sanitizers: helgrind found errors or the chain failed (exit $rc):" >&2
		grep -B2 -A30 -m3 'Possible data race\|lock order\|unlocked' "$work/helgrind.log" >&2 || true
		tail -20 "$work/helgrind.log.stderr" >&2
		status=1
		step_done FAILED
		return
	fi
	# The failure path: one guest stream that the worker thread reads
	# (graph 1) decodes wrong halfway; its causes are taken on that thread
	# and moved back. Only one thread fails, as only one stream is bad: two
	# threads logging errors at once draw helgrind reports on the logging
	# time cache of libbabeltrace2 and the ctf plugin, which is guarded by
	# atomics helgrind does not model (README "Performance").
	cp -r "$work/hc/traces" "$work/hc-bad"
	trace=$(sed -n 's/.*Reading a stream: path="\([^"]*\/vm-[^"]*\)", port=\([0-9]*\), .*graph=1$/\1 \2/p' \
		"$split" | head -1)
	port=${trace##* }
	trace=${trace% *}
	stream=$(port_file "$work/hc-bad/${trace#"$work/hc/traces/"}" "$port")
	dd if=/dev/zero bs=4096 count=1 2>/dev/null | tr '\0' '\377' |
		dd of="$stream" bs=1 seek=$(($(stat -c %s "$stream") / 2)) conv=notrunc 2>/dev/null
	rc=$(helgrind_chain "$work/hc-bad" "$work/helgrind-bad.log")
	if [ "$rc" -ne 1 ] || ! grep -q "Cannot read a stream of the trace.*$(dirname "$stream")" \
		<(tr -d '\n' <"$work/helgrind-bad.log.stderr" | tr -s ' '); then
		echo "ci-sanitizers: helgrind on a corrupt guest stream ($stream):" \
			"exit $rc, not 1 with a cause naming it:" >&2
		grep -B2 -A30 -m3 'Possible data race\|lock order\|unlocked' "$work/helgrind-bad.log" >&2 || true
		tail -20 "$work/helgrind-bad.log.stderr" >&2
		status=1
		step_done FAILED
		return
	fi
	# The log line's process and thread ids differ: the worker read it.
	if ! awk '/ E VMTRACE\/SYNC-PASS stream_sink_consume@/ && $3 != $4 { found = 1 }
		END { exit !found }' "$work/helgrind-bad.log.stderr"; then
		echo "ci-sanitizers: $stream did not fail on the worker thread" >&2
		status=1
	fi
	step_done "$(grep -c . "$work/helgrind.csv") CSV lines, no report (also when a guest stream fails on the worker)"
}

# --- 4. libFuzzer ------------------------------------------------------------------

run_fuzz() {
	local build=build-fuzz target corpus
	step "libFuzzer targets ($build, clang)"
	CC=clang cmake -S . -B "$build" -DVMTRACE_SANITIZE=ON -DVMTRACE_FUZZ=ON >/dev/null
	cmake --build "$build" -j "$(nproc)" --target fuzz-params fuzz-uuid >/dev/null
	step_done built
	for target in fuzz-params fuzz-uuid; do
		step "$target for ${fuzz_seconds} s"
		corpus="$work/corpus-$target"
		mkdir -p "$corpus"
		if [ -d "tests/fuzz/corpus/$target" ]; then
			cp tests/fuzz/corpus/"$target"/* "$corpus"/
		fi
		# Full unwinding so that the suppressions (GLib's by-design
		# allocations) match; a crash, a report or a leak fails.
		if ! (cd "$work" && ASAN_OPTIONS="fast_unwind_on_malloc=0:abort_on_error=1" \
			UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
			LSAN_OPTIONS="suppressions=$repo/tests/fuzz/lsan.supp" \
			"$repo/$build/fuzz/$target" -max_total_time="$fuzz_seconds" -timeout=10 \
			-rss_limit_mb=3072 -print_final_stats=1 "$corpus" \
			>"$work/$target.log" 2>&1); then
			echo "ci-sanitizers: $target found a problem:" >&2
			grep -v '^#[0-9]' "$work/$target.log" | tail -60 >&2
			for crash in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
				[ -e "$crash" ] && echo "input (base64): $(base64 -w0 "$crash")" >&2
			done
			status=1
			step_done FAILED
			continue
		fi
		step_done "$(grep -E '^stat::number_of_executed_units' "$work/$target.log" |
			awk '{print $2}') runs, no problem"
	done
}

[ "${SKIP_ASAN:-0}" = 1 ] || run_asan
[ "${SKIP_VALGRIND:-0}" = 1 ] || run_valgrind
[ "${SKIP_HELGRIND:-0}" = 1 ] || run_helgrind
[ "${SKIP_FUZZ:-0}" = 1 ] || run_fuzz
if [ "$status" -ne 0 ]; then
	echo "ci-sanitizers: FAILED" >&2
fi
exit "$status"
