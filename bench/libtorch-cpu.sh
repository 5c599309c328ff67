#!/usr/bin/env bash
# CPU speed of fedsaf on LibTorch 2.x (the pinned wheel, build/) against Debian's LibTorch 1.13
# (build-1.13/), in one script on one machine: the FashionMNIST Dir(0.1) FedAvg config (20 clients,
# CNN, batch 10, evaluation every round), seconds per round (median of rounds 2–ROUNDS) at 1 rank.
# Also prints this machine's single-core SGEMM rate under each LibTorch, as the yardstick.
#
#   bash bench/libtorch-cpu.sh [ROUNDS=3] [RANKS=1]
#
# Installs Debian's libtorch-dev (FEDSAF_TORCH=debian scripts/install-deps.sh) and builds
# build-1.13 the first time (about 5 minutes), then about 40 s per round and LibTorch.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${1:-3}"
ranks="${2:-1}"
# shellcheck source=round_time.sh
source "$root/bench/round_time.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

FEDSAF_TORCH=debian bash "$root/scripts/install-deps.sh" >/dev/null
bash "$root/scripts/build.sh" fedsaf bench_sgemm >/dev/null
BUILD_DIR="$root/build-1.13" FEDSAF_TORCH=debian bash "$root/scripts/build.sh" fedsaf bench_sgemm >/dev/null

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
config=("$root/configs/fashionmnist-dir0.1.toml" --set "run.rounds=$rounds" --set run.checkpoint_every=0)
declare -A spr gflops
for build in build build-1.13; do
  version="$("$root/$build/fedsaf" --version | sed -n 2p)"
  gflops[$build]="$(OMP_NUM_THREADS=1 "$root/$build/bench/bench_sgemm" | awk '/GFLOP\/s/ { print $NF }')"
  spr[$build]="$(seconds_per_round "$root/$build/fedsaf" "$ranks" "${config[@]}" --out "$out/$build" --fresh --force)"
  train="$(phase_median "$out/$build/run.h5" train_seconds)"
  eval="$(phase_median "$out/$build/run.h5" eval_seconds)"
  printf '%-11s %-55s SGEMM %6s GFLOP/s  %7s s/round (training %s s, evaluation %s s)\n' "$build" "$version" \
    "${gflops[$build]}" "${spr[$build]}" "$train" "$eval"
done
awk -v a="${spr[build]}" -v b="${spr[build-1.13]}" \
  'BEGIN { printf "LibTorch 2.x / 1.13, seconds per round: %.2f (below 1: 2.x is faster)\n", a / b }'
