#!/usr/bin/env bash
# Installs what is missing, builds fedsaf (Release) and shows what it is for: FedSAF and its
# baselines (FedAMP, FedPer, FedAvg, local training) on the built-in default data
# (configs/fedsaf-synthetic.toml: FedProx Synthetic(1,1), 20 clients, an MLP split after its hidden
# layer), each on 2 MPI ranks, then one comparison table. Takes seconds after the build. Extra
# arguments go to every `fedsaf run`, e.g. `bash scripts/quickstart.sh --set run.rounds=5`.
# Outputs: runs/quickstart/<algorithm>/run.h5 and runs/quickstart/compare/ (compare.md, plots).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh" fedsaf
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
ranks="${FEDSAF_RANKS:-2}"
out="$root/runs/quickstart"
for algorithm in fedsaf fedamp fedper fedavg local; do
  echo "== $algorithm"
  mpirun -n "$ranks" --allow-run-as-root --oversubscribe --bind-to none \
    "$root/build/fedsaf" run "$root/configs/fedsaf-synthetic.toml" --set "run.algorithm=$algorithm" \
    --out "$out/$algorithm" --fresh --force "$@"
done
echo "== FedSAF and its baselines (best, last and mean of the last 10 evaluations; pooled test accuracy)"
"$root/analysis/fedsaf-analysis" compare "$out"/{fedsaf,fedamp,fedper,fedavg,local}/run.h5 --by run.algorithm \
  -o "$out/compare"
echo "Run files: $out/<algorithm>/run.h5; table and plots: $out/compare/compare.md"
echo "One run's report: analysis/fedsaf-analysis report $out/fedsaf/run.h5 -o $out/fedsaf/report"
