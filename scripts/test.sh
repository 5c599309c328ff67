#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (C++ unit, MPI at 1/2/4 ranks, end-to-end
# CLI, Slurm, Python analysis), then the fuzz targets' regression inputs and a short fuzzing run.
# Exit status is non-zero if any test fails or the fuzzer finds anything.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
ctest --test-dir "$build" --output-on-failure --timeout 900
# Fuzzing (fuzz/README.md): replays the committed corpus and regression inputs, then fuzzes each
# of the 6 targets for FEDSAF_FUZZ_SECONDS (default 25: 2.5 minutes in all; 0: replay only).
bash "$root/scripts/fuzz.sh" "${FEDSAF_FUZZ_SECONDS:-25}"
