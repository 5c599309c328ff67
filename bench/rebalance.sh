#!/usr/bin/env bash
# Re-placement between rounds (run.rebalance, issue 13 §3), measured: the FashionMNIST Dir(0.1)
# FedAvg config (configs/fashionmnist-dir0.1.toml) at 2 ranks, where rank 1 is made to train at
# half speed (FEDSAF_SLOW_RANK=1:1 sleeps as long again as it trained: a slower node or GPU), run
# without re-placement (run.rebalance = 0) and with it (0.1), one after the other. Prints per
# round the wall time, each rank's training + evaluation time, its idle share (waiting for the
# slowest rank) and how many clients it hosts, then the mean s/round of the rounds after the
# first re-placement against the same rounds without it. Also the balanced case (no slow rank):
# the idle share the cost-based placement leaves.
#
#   bash bench/rebalance.sh [ROUNDS=6]
#
# About 5 minutes on 2 cores.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${1:-6}"
# shellcheck source=bench/common.sh
source "$root/bench/common.sh"
bench_env
py="$(bench_python)"
bash "$root/scripts/build.sh" fedsaf >/dev/null
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# run NAME SLOW_RANK_SPEC REBALANCE
run() {
  local dir="$out/$1"
  if ! env ${2:+FEDSAF_SLOW_RANK=$2} mpirun -n 2 --bind-to none "$root/build/fedsaf" run \
      "$root/configs/fashionmnist-dir0.1.toml" --set "run.rounds=$rounds" --set run.checkpoint_every=0 \
      --set "run.rebalance=$3" --out "$dir" --fresh --force >"$dir.log" 2>&1; then
    cat "$dir.log" >&2
    exit 1
  fi
  grep "re-placed" "$dir.log" | sed 's/^/  /' || true
}

echo "FashionMNIST Dir(0.1), FedAvg, 2 ranks, $rounds rounds"
run balanced "" 0
run slow-fixed 1:1 0
run slow-rebalanced 1:1 0.1

"$py" - "$out" <<'PY'
import sys, h5py, numpy as np
out = sys.argv[1]
def load(name):
    with h5py.File(f"{out}/{name}/run.h5", "r") as f:
        busy = f["timing/train_seconds"][:] + f["timing/eval_seconds"][:]   # [R, ranks]
        wall = f["metrics/rounds/wall_seconds"][:]                          # [R]
        start = f["partition/placement"][:]                                 # [N]
        if "partition/replacements" in f:
            after = f["partition/replacements/round"][:]
            placements = f["partition/replacements/placement"][:]
        else:
            after, placements = np.zeros(0, int), np.zeros((0, start.size), int)
    hosted = []  # [R, ranks] clients per rank in each round
    for t in range(len(wall)):
        k = np.searchsorted(after, t)   # re-placements after rounds < t apply to round t
        place = start if k == 0 else placements[k - 1]
        hosted.append(np.bincount(place, minlength=busy.shape[1]))
    return wall, busy, np.array(hosted), after
results = {}
for name in ("balanced", "slow-fixed", "slow-rebalanced"):
    wall, busy, hosted, after = load(name)
    results[name] = (wall, after)
    idle = 1 - busy / busy.max(axis=1, keepdims=True)
    print(f"{name}:")
    for t in range(len(wall)):
        ranks = "  ".join(f"rank {r}: {busy[t, r]:6.2f} s busy, idle {100 * idle[t, r]:3.0f} %, {hosted[t, r]:2d} clients"
                          for r in range(busy.shape[1]))
        print(f"  round {t + 1}: {wall[t]:6.2f} s  {ranks}")
wall_fixed, _ = results["slow-fixed"]
wall_moved, after = results["slow-rebalanced"]
if len(after) == 0:
    print("no re-placement happened")
else:
    first = int(after[0]) + 1   # first round on the new placement
    a, b = wall_fixed[first:].mean(), wall_moved[first:].mean()
    print(f"rounds {first + 1}..{len(wall_moved)}: {a:.2f} s/round without re-placement, {b:.2f} with it: "
          f"{a / b:.2f}× faster")
PY
