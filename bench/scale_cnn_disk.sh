#!/usr/bin/env bash
# FedSAF with the FedAvg CNN and 10,000 clients, its client state in memory and in the disk tier
# (issue 23 §2 and §8): the same run twice at 2 ranks, once with every client's state in memory
# and once with run.state_dir set and run.host_state_mb small, so that all but a few MiB of it
# lives in the rank's memory-mapped scratch file. Prints per run each training round, the
# evaluation round, the bytes in each tier, peak RSS per rank and the checkpoint's size,
# then the disk run's rounds as a ratio to the memory run's (the issue's bar: within 1.5×). Peak
# RSS counts the scratch file's pages the rank has touched: the disk tier shows in the tier
# columns, not there.
#
# Data: FashionMNIST (Debian's dataset-fashion-mnist, 70,000 images) dealt iid to the clients (7
# each: 5 to train, 2 to test), CNN split before its last 2 layers (model.n_head = 2: conv1 and
# conv2 shared, S = 52,096), a cohort of 1,000 clients per round, the last round also evaluating
# a sample of 200 clients. After ROUNDS rounds about 1 − 0.9^ROUNDS of the clients hold a row,
# which must fit in memory for the memory run: 3 rounds are about 3.8 GB of state per rank and a
# peak of about 8 GB per rank (5 rounds did not fit in 24 GB at 2 ranks).
#
#   bash bench/scale_cnn_disk.sh [ROUNDS=3] [CLIENTS=10000] [STATE_DIR=a temporary folder]
#
# On a machine whose free memory holds the scratch files the kernel's page cache keeps them, and
# the ratio measures the tier's own cost (the copies through the mapping, prefetch and write-back),
# not the disk's speed. About 6 minutes on 2 quiet cores.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${1:-3}"
clients="${2:-10000}"
# shellcheck source=bench/common.sh
source "$root/bench/common.sh"
bench_env
py="$(bench_python)"
binary="$(bench_binary)"
out="$(mktemp -d)"
state_dir="${3:-$out/state}"
mkdir -p "$state_dir"
trap 'rm -rf "$out"' EXIT

# run_case NAME ARGS...: one run, its row of the table.
run_case() {
  local name="$1"
  shift
  local dir="$out/$name"
  mpirun -n 2 --bind-to none bash -c 'exec /usr/bin/time -f %M -o "$0.rss.$OMPI_COMM_WORLD_RANK" "$@"' "$dir" \
    "$binary" run "$root/configs/fedsaf-fashionmnist-dir0.1.toml" --out "$dir" --fresh --force --quiet \
    --set run.clients="$clients" --set partition.method=iid --set partition.min_size=1 \
    --set run.join_ratio="$(awk -v n="$clients" 'BEGIN { r = 1000 / n; print (r < 1 ? r : 1) }')" \
    --set run.rounds="$rounds" --set run.eval_every="$rounds" --set run.checkpoint_every=0 \
    --set run.eval_clients=200 --set model.n_head=2 --set attention.every=0 "$@" \
    >"$dir.log" 2>&1 || { cat "$dir.log" >&2; return 1; }
  "$py" - "$dir" "$name" <<'EOF'
import glob, json, os, sys
import h5py, numpy as np
d, name = sys.argv[1], sys.argv[2]
with h5py.File(d + '/run.h5', 'r') as f:
    wall = f['metrics/rounds/wall_seconds'][:]
    tiers = {t: f['ranks/state_' + t + '_bytes'][:] for t in ('device', 'host', 'disk')}
    setup = float(f.attrs.get('setup_seconds', float('nan')))
train = wall[:-1] if len(wall) > 1 else wall  # the training rounds (the last one also evaluates)
ckpts = sorted(glob.glob(d + '/checkpoints/ckpt-*.h5'))
rss = [int(open(p).read().split()[-1]) / 1024 for p in sorted(glob.glob(d + '.rss.*'))]
me = {'train': float(train.sum()), 'eval': float(wall[-1]), 'startup': setup}
json.dump(me, open(d + '.json', 'w'))
mb = lambda v: ' / '.join(f'{x / 2**20:.0f}' for x in v)
print(f'| {name} | {me["startup"]:.1f} | {" + ".join(f"{s:.2f}" for s in train)} | {me["eval"]:.2f} | {mb(tiers["device"])} | {mb(tiers["host"])} '
      f'| {mb(tiers["disk"])} | {" / ".join(f"{r:.0f}" for r in rss)} | {os.path.getsize(ckpts[-1]) / 1e6 if ckpts else 0:.0f} |')
EOF
}

echo "FedSAF, FashionMNIST CNN (n_head 2), $clients clients, cohort 1,000, $rounds rounds, 2 ranks; state MiB per rank (rank 0 / rank 1) at the end of the run."
echo
echo "| state | before round 1, s | training rounds, s | evaluation round, s | device tier, MiB | host tier, MiB | disk tier, MiB | peak RSS per rank, MB | checkpoint, MB |"
echo "|---|---|---|---|---|---|---|---|---|"
run_case memory
run_case disk --set run.state_dir="$state_dir" --set run.host_state_mb=16
"$py" - "$out" <<'EOF'
import json, sys
m, d = (json.load(open(f'{sys.argv[1]}/{n}.json')) for n in ('memory', 'disk'))
print()
print(f'Disk tier / memory: training rounds (their sum) {d["train"] / m["train"]:.2f}, evaluation round {d["eval"] / m["eval"]:.2f} (bar: ≤ 1.5).')
EOF
