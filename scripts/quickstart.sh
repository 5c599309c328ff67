#!/usr/bin/env bash
# Installs what is missing, builds fedsaf (Release) and runs the built-in default experiment
# (FedAvg on FedProx Synthetic(1,1) data, 20 clients) on 2 MPI ranks. Extra arguments go to
# `fedsaf run`, e.g. `bash scripts/quickstart.sh --set run.rounds=5`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh" fedsaf
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
ranks="${FEDSAF_RANKS:-2}"
mpirun -n "$ranks" --allow-run-as-root --oversubscribe --bind-to none \
  "$root/build/fedsaf" run "$root/configs/default.toml" --out "$root/runs/default" --fresh --force "$@"
