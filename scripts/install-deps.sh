#!/usr/bin/env bash
# Installs the Debian 12 packages vmtrace needs that are missing (as root,
# or through sudo). Extra package names given as arguments are added (CI
# adds its tools: valgrind, clang, ...).
set -euo pipefail

packages=(cmake make gcc pkg-config libglib2.0-dev babeltrace2 libbabeltrace2-dev
	python3-bt2 python3-pytest "$@")
missing=()
for package in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$package")
	fi
done
if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi
echo "Installing missing Debian packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends "${missing[@]}"; then
	$sudo apt-get update
	$sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
