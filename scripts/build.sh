#!/usr/bin/env bash
# Configures (once) and builds fedsaf in Release with ninja into build/ (override: BUILD_DIR).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
# Each torch translation unit needs up to 1.5 GB of RAM: cap parallel jobs by memory and cores.
mem_gb=$(awk '/MemAvailable/ {print int($2 / 1048576)}' /proc/meminfo)
jobs=$(( $(nproc) < mem_gb / 2 ? $(nproc) : mem_gb / 2 ))
[ "$jobs" -ge 1 ] || jobs=1
ninja -C "$build" -j "$jobs" "$@"
