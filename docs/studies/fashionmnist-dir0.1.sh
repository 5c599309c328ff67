#!/usr/bin/env bash
# The FashionMNIST Dir(0.1), 20-client study of FEDSAF-SPEC.md's protocol (FedAvg CNN, lr 0.005,
# batch 10, 1 local epoch), every algorithm and the FedSAF ablations, ROUNDS rounds each, two runs
# at a time (one core each). Usage: bash docs/studies/fashionmnist-dir0.1.sh OUT_DIR [ROUNDS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:?output folder}"
rounds="${2:-5}"
mkdir -p "$out"
export OMP_NUM_THREADS=1
run() {  # name, then --set overrides
  local name="$1"; shift
  "$root/build/fedsaf" run "$root/configs/fashionmnist-dir0.1.toml" --quiet --force --out "$out/$name" \
    --set run.rounds="$rounds" "$@" > "$out/$name.log" 2>&1 || echo "run $name failed (see $out/$name.log)"
}
{
  run local --set run.algorithm=local
  run fedprox --set run.algorithm=fedprox
  run fedamp --set run.algorithm=fedamp
  run fedsaf-noamp --set run.algorithm=fedsaf --set model.n_head=2 --set attention.kernel=samples
  run fedsaf-nhead3 --set run.algorithm=fedsaf --set model.n_head=3
} &
{
  run fedavg --set run.algorithm=fedavg
  run fedper --set run.algorithm=fedper --set model.n_head=2
  run fedsaf --set run.algorithm=fedsaf --set model.n_head=2
  run fedsaf-nofim --set run.algorithm=fedsaf --set model.n_head=2 --set fedsaf.fisher_mode=none
} &
wait
for f in "$out"/*/run.h5; do "$root/build/fedsaf" inspect "$f" | sed -n '3p;8,11p'; done
