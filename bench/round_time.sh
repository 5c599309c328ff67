# Sourced by the benchmark scripts (bench/libtorch-cpu.sh, bench/multinode.sh, scripts/gpu-check.sh): times fedsaf runs.
#
# seconds_per_round BINARY RANKS ARGS...: runs `BINARY run ARGS` on RANKS ranks (mpirun, one torch
# thread per rank) and prints the median of the per-round wall seconds fedsaf reports, leaving out
# the first round (warm-up: allocator, cuDNN and kernel caches). Returns non-zero, with the run's
# output on stderr, if the run fails.
seconds_per_round() {
  local binary="$1" ranks="$2"
  shift 2
  local log
  log="$(mktemp)"
  if ! OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE mpirun -n "$ranks" --allow-run-as-root --oversubscribe \
      --bind-to none "$binary" run "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  # "round 3/4  acc ...  12.34 s/round  ETA 5s": the number before "s/round", rounds 2 onwards.
  grep -E '^round [0-9]+/' "$log" | tail -n +2 | grep -oE '[0-9.]+ s/round' | cut -d' ' -f1 | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
  local status=$?
  rm -f "$log"
  return $status
}

# bench_python (the Python with h5py and numpy): bench/common.sh.
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# phase_median RUN.h5 NAME: the median over rounds 2.. of rank 0's /timing/NAME (e.g. train_seconds,
# eval_seconds) in a run file, read with h5py.
phase_median() {
  "$(bench_python)" -c 'import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    print("%.2f" % np.median(f["timing/" + sys.argv[2]][1:, 0]))' "$1" "$2"
}
