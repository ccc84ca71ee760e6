#!/usr/bin/env bash
# House style checks (run by .ci/run): every C file is clang-formatted, and
# every `if`/`else`/`for`/`while` has braces (clang-format 14 cannot add them,
# so clang-tidy's readability-braces-around-statements checks it).
# Needs a configured build (compile_commands.json): BUILD_DIR, default build.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}

mapfile -t files < <(git ls-files '*.c' '*.h')
clang-format --dry-run --Werror "${files[@]}"
echo "check-style: clang-format: ${#files[@]} files formatted"

mapfile -t sources < <(git ls-files 'lib/*.c' 'plugins/*.c' 'tools/*.c' 'tests/*.c')
if ! output=$(clang-tidy -p "$build_dir" --quiet --warnings-as-errors='*' \
	--checks='-*,readability-braces-around-statements' "${sources[@]}" 2>&1); then
	echo "$output" | grep -v "warnings generated" >&2
	exit 1
fi
echo "check-style: clang-tidy: braces on every statement in ${#sources[@]} files"
