#!/usr/bin/env bash
# fedsaf's speed against this machine's arithmetic limit, in one script (issue 13):
#   1. the single-core SGEMM rate (bench_sgemm: the yardstick every rate below is divided by);
#   2. the FashionMNIST Dir(0.1) FedAvg config (configs/fashionmnist-dir0.1.toml: 20 clients, CNN,
#      batch 10, evaluation every round) at 1 and 2 ranks;
#   3. FedSAF on that data (configs/fedsaf-fashionmnist-dir0.1.toml; its Fisher pass counts as
#      training) at 1 and 2 ranks;
#   4. FedSAF with 1000 clients (built-in synthetic data, mlp, full participation) at 2 ranks,
#      with client-batched training (automatic train.client_group) and one client at a time, and
#      its pairwise stage alone (bench_pairwise: float32 against float64).
# Per case and rank: the median over rounds 2..ROUNDS of each phase's seconds (training,
# evaluation, communication + attention, run-file I/O, idle = waiting for the slowest rank's
# compute), and training's and evaluation's GFLOP/s as a share of the SGEMM rate. FLOPs: the CNN's
# forward is 8.53 MFLOP per 28×28 sample (2·MACs of conv1, conv2, fc1, fc); a training sample
# costs 3× its forward (forward + backward), a test sample 1×.
#
#   bash bench/speed.sh [ROUNDS=3] [BASELINE_FEDSAF]
#
# BASELINE_FEDSAF: another fedsaf binary (e.g. built from an older commit) run on the same cases
# right after this one, so the script prints before/after ratios measured minutes apart on the
# same machine. Takes about 10 minutes on 2 cores (twice that with a baseline).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${1:-3}"
baseline="${2:-}"
# shellcheck source=bench/common.sh
source "$root/bench/common.sh"
bench_env
py="$(bench_python)"
bash "$root/scripts/build.sh" fedsaf bench_sgemm bench_pairwise >/dev/null
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] &&
   [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte ]; then
  echo "bench/speed.sh: needs FashionMNIST (apt-get install dataset-fashion-mnist)" >&2
  exit 1
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

peak="$("$root/build/bench/bench_sgemm" 2048 5 | awk '/GFLOP\/s/ { print $NF }')"
echo "single-core SGEMM (LibTorch, 2048²): $peak GFLOP/s"

# report RUN.h5 LABEL MFLOP_PER_SAMPLE TRAIN_PASSES: one line per rank.
report() {
  "$py" - "$@" "$peak" "$rounds" <<'EOF'
import sys, h5py, numpy as np
path, label, mflop, passes, peak, rounds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
with h5py.File(path, "r") as f:
    t = {k: f["timing/" + k][1:] for k in ("train_seconds", "eval_seconds", "comm_seconds", "io_seconds")}
    wall = f["metrics/rounds/wall_seconds"][1:]
    sizes = f["partition/sizes"][:]          # [N, 2] train, test samples
    place = f["partition/placement"][:]      # [N] rank of each client
    batch = 10
    for line in f["config"][0].decode().splitlines():
        if line.startswith("batch_size"):
            batch = int(line.split("=")[1])
ranks = t["train_seconds"].shape[1]
busy = t["train_seconds"] + t["eval_seconds"]            # [rounds-1, R]
idle = busy.max(axis=1, keepdims=True) - busy            # waiting for the slowest rank's compute
print(f"{label}: {np.median(wall):.2f} s/round (median of rounds 2..{rounds})")
for r in range(ranks):
    mine = place == r
    trained = (sizes[mine, 0] // batch * batch + (sizes[mine, 0] < batch) * sizes[mine, 0]).sum()
    tested = sizes[mine, 1].sum()
    tr, ev = np.median(t["train_seconds"][:, r]), np.median(t["eval_seconds"][:, r])
    tr_g = trained * passes * 3 * mflop / 1e3 / tr if mflop > 0 else float("nan")
    ev_g = tested * mflop / 1e3 / ev if mflop > 0 else float("nan")
    rate = lambda g: f" ({g:5.1f} GFLOP/s, {100 * g / peak:3.0f} % of SGEMM)" if mflop > 0 else ""
    print(f"  rank {r}: training {tr:6.2f} s{rate(tr_g)}"
          f"  evaluation {ev:5.2f} s{rate(ev_g)} ({100 * ev / tr:3.0f} % of training)"
          f"  comm+attention {np.median(t['comm_seconds'][:, r]):5.2f} s  io {np.median(t['io_seconds'][:, r]):4.2f} s"
          f"  idle {np.median(idle[:, r]):5.2f} s ({100 * np.median(idle[:, r] / wall):3.0f} %)")
EOF
}

# case NAME RANKS MFLOP TRAIN_PASSES ARGS...: runs fedsaf (and the baseline) and reports.
case_run() {
  local name="$1" ranks="$2" mflop="$3" passes="$4"
  shift 4
  local binaries=("$root/build/fedsaf") labels=("now")
  if [ -n "$baseline" ]; then binaries+=("$baseline"); labels+=("baseline"); fi
  local i
  for i in "${!binaries[@]}"; do
    local dir="$out/$name-${labels[$i]}"
    if ! mpirun -n "$ranks" --bind-to none "${binaries[$i]}" run "$@" --set "run.rounds=$rounds" \
        --set run.checkpoint_every=0 --out "$dir" --fresh --force >"$dir.log" 2>&1; then
      cat "$dir.log" >&2
      exit 1
    fi
    report "$dir/run.h5" "$name, $ranks rank(s), ${labels[$i]}" "$mflop" "$passes"
  done
}

cnn_mflop=8.53
case_run fedavg-fashionmnist 1 "$cnn_mflop" 1 "$root/configs/fashionmnist-dir0.1.toml"
case_run fedavg-fashionmnist 2 "$cnn_mflop" 1 "$root/configs/fashionmnist-dir0.1.toml"
# FedSAF trains once and runs one Fisher pass (forward + backward) over the training split.
case_run fedsaf-fashionmnist 1 "$cnn_mflop" 2 "$root/configs/fedsaf-fashionmnist-dir0.1.toml"
case_run fedsaf-fashionmnist 2 "$cnn_mflop" 2 "$root/configs/fedsaf-fashionmnist-dir0.1.toml"
case_run fedsaf-1000-clients 2 0 2 --set run.algorithm=fedsaf --set model.name=mlp --set run.clients=1000
# The same with client-batched training switched off (train.client_group = 1: one client at a time).
case_run fedsaf-1000-clients-one-at-a-time 2 0 2 --set run.algorithm=fedsaf --set model.name=mlp \
  --set run.clients=1000 --set train.client_group=1
echo "pairwise stage alone (1000 clients, S = 14210: the mlp's parameters, all shared):"
mpirun -n 2 --bind-to none "$root/build/bench/bench_pairwise" 1000 14210 1000 0 2 | sed 's/^/  /'
