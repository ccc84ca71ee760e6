#!/usr/bin/env bash
# Runs every test of vmtrace: builds (if needed), then the C unit tests
# (ctest), then the Python graph tests (pytest, Debian's /usr/bin/python3).
# The last line is pytest's summary; the exit status is non-zero if either
# suite fails.
#
# Environment: VMTRACE_BUILD_DIR (default: build), VMTRACE_CMAKE_ARGS
# (extra cmake arguments, e.g. -DVMTRACE_SANITIZE=ON), PYTEST_ARGS.
set -u
cd "$(dirname "$0")/.."
build_dir=${VMTRACE_BUILD_DIR:-build}

# shellcheck disable=SC2086
if ! cmake -S . -B "$build_dir" ${VMTRACE_CMAKE_ARGS:-} >/dev/null ||
	! cmake --build "$build_dir" -j "$(nproc)" >/dev/null; then
	echo "tests/run.sh: the build failed (run: cmake --build $build_dir)" >&2
	exit 1
fi

ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)"
ctest_status=$?

# shellcheck disable=SC2086
VMTRACE_BUILD_DIR=$build_dir /usr/bin/python3 -m pytest tests/python -p no:cacheprovider \
	-q ${PYTEST_ARGS:-}
pytest_status=$?

if [ "$ctest_status" -ne 0 ] || [ "$pytest_status" -ne 0 ]; then
	exit 1
fi
