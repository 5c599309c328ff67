#!/usr/bin/env bash
# Runs every algorithm on the built-in synthetic config at 1 and 3 ranks (6 rounds, half the
# clients per round, evaluations and checkpoints every 2 rounds; stacked and one-at-a-time
# training) with the given fedsaf binary into OUT/<case>/run.h5. Two such folders, one from
# before a code change and one from after, are compared with scripts/compare_run_files.py:
#   bash scripts/bit_identity.sh /tmp/fedsaf-before /tmp/before
#   bash scripts/bit_identity.sh build/fedsaf /tmp/after
#   for f in /tmp/before/*/run.h5; do scripts/compare_run_files.py "$f" "/tmp/after/${f#/tmp/before/}"; done
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: bit_identity.sh FEDSAF_BINARY OUT_DIR" >&2; exit 2; }
binary="$(realpath "$1")"
out="$2"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1
common=(--set run.rounds=6 --set run.eval_every=2 --set run.checkpoint_every=2 --set run.join_ratio=0.5)
run_case() {  # name ranks extra-args...
  local name=$1 ranks=$2
  shift 2
  mpirun -n "$ranks" --bind-to none "$binary" run "$root/configs/fedsaf-synthetic.toml" "${common[@]}" "$@" \
    --out "$out/$name" --fresh --force --quiet
}
for algorithm in fedavg fedprox fedper fedamp fedsaf fedavgm local; do
  for ranks in 1 3; do
    run_case "$algorithm-np$ranks" "$ranks" --set run.algorithm=$algorithm
    run_case "$algorithm-np$ranks-alone" "$ranks" --set run.algorithm=$algorithm --set train.client_group=1
  done
done
echo "bit_identity: run files in $out"
