#!/usr/bin/env bash
# The issue-4 FashionMNIST study (evaluation protocol: docs/algorithms.md#evaluation-protocol;
# 20 clients, FedAvg CNN, lr 0.005, batch 10, 1 local epoch, full participation, evaluation every
# round) on Dir(0.1) and pathological(2): every algorithm, the FedSAF ablations and a small
# α_K / n_head sweep.
# Two queues run side by side, one core each, at low priority (builds on the same machine win).
# Usage: bash docs/studies/fashionmnist.sh OUT_DIR [DIR_ROUNDS] [PAT_ROUNDS]
#   FEDSAF_BIN=path/to/fedsaf to use a frozen copy of the binary (default: build/fedsaf).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:?output folder}"
dir_rounds="${2:-12}"
pat_rounds="${3:-10}"
bin="${FEDSAF_BIN:-$root/build/fedsaf}"
mkdir -p "$out"
export OMP_NUM_THREADS=1
run() {  # split (dir|pat), name, then --set overrides
  local split="$1" name="$2"; shift 2
  local config="$root/configs/fashionmnist-dir0.1.toml" rounds="$dir_rounds"
  if [[ "$split" == pat ]]; then config="$root/configs/fashionmnist-pat2.toml"; rounds="$pat_rounds"; fi
  echo "$(date +%T) start $split-$name"
  nice -n 10 "$bin" run "$config" --quiet --force --out "$out/$split-$name" \
    --set run.rounds="$rounds" "$@" > "$out/$split-$name.log" 2>&1 \
    || echo "run $split-$name failed (see $out/$split-$name.log)"
}
saf=(--set run.algorithm=fedsaf --set model.n_head=2)
{
  run dir local --set run.algorithm=local
  run dir fedavg --set run.algorithm=fedavg
  run dir fedper --set run.algorithm=fedper --set model.n_head=2
  run dir fedamp --set run.algorithm=fedamp
  run dir fedsaf "${saf[@]}"
  run dir fedsaf-noamp "${saf[@]}" --set attention.kernel=samples
  run dir fedsaf-nofim "${saf[@]}" --set fedsaf.fisher_mode=none
  run dir fedprox --set run.algorithm=fedprox
  run pat fedavg --set run.algorithm=fedavg
} &
{
  run dir fedsaf-ak0.1 "${saf[@]}" --set attention.alpha_k=0.1
  run dir fedsaf-ak0.01 "${saf[@]}" --set attention.alpha_k=0.01
  run dir fedamp-ak0.1 --set run.algorithm=fedamp --set attention.alpha_k=0.1
  run dir fedsaf-nhead1 --set run.algorithm=fedsaf --set model.n_head=1
  run dir fedsaf-nhead3 --set run.algorithm=fedsaf --set model.n_head=3
  run pat local --set run.algorithm=local
  run pat fedper --set run.algorithm=fedper --set model.n_head=2
  run pat fedamp --set run.algorithm=fedamp
  run pat fedsaf "${saf[@]}"
} &
wait
echo "$(date +%T) all runs finished"
