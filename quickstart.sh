#!/usr/bin/env bash
# vmtrace quick start: installs what is missing, builds, simulates a KVM host
# with two guests (the bundled sample), and prints the vCPU report of the
# full chain source.vmsync.fs -> filter.vmmatch.tag -> sink.vmstate.intervals.
set -euo pipefail
cd "$(dirname "$0")"

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
echo "Built the plugins in build/plugins and the simulator build/tools/vmsim."

rm -rf sample
build/tools/vmsim --scenario sample --seed 1 --out sample >/dev/null
echo "Simulated the sample traces in sample/traces (ground truth in sample/truth)."
echo

babeltrace2 --plugin-path=build/plugins \
	--component=src:source.vmsync.fs --params='inputs=["sample/traces"]' \
	--component=tag:filter.vmmatch.tag \
	--component=out:sink.vmstate.intervals --params='format="text"'
