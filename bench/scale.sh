#!/usr/bin/env bash
# fedsaf at scale (issue 23): FedAvg and FedSAF on the built-in synthetic data (mlp, 20–100 samples
# per client, hidden layer 200, every layer shared: S = 14,210; a cohort of 10 % of the clients) at 2 ranks, for each client count given, and FedSAF
# once more with a sampled evaluation (run.eval_clients = 1000). Rounds 1..ROUNDS-1 only train;
# the last round also evaluates. Per case: the seconds before round 1 (process wall time less the
# rounds), the median training round, the evaluation round, their ratio to FedAvg's training round
# in the same script (machines here are noisy: compare ratios), peak RSS per rank, and the run
# file's and last checkpoint's sizes.
#
#   bash bench/scale.sh [CLIENTS="1000 10000"] [ROUNDS=4]       (FEDSAF_BINARY=... another build)
#
# 10,000 clients take about 5 minutes on 2 quiet cores; 100,000 about 20.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
clients_list="${1:-1000 10000}"
rounds="${2:-4}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
py=python3
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import h5py' 2>/dev/null && py=/usr/bin/python3
# FEDSAF_BINARY: another build to measure (e.g. an older one, for a before/after table).
binary="${FEDSAF_BINARY:-$root/build/fedsaf}"
[ -n "${FEDSAF_BINARY:-}" ] || bash "$root/scripts/build.sh" fedsaf >/dev/null
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# case NAME CLIENTS ARGS...: runs one case, prints its row.
run_case() {
  local name="$1" clients="$2"
  shift 2
  local dir="$out/$name-$clients"
  local start end
  start=$(date +%s.%N)
  # Each rank under /usr/bin/time: its peak RSS (KiB) into DIR.rss.RANK.
  mpirun -n 2 --bind-to none bash -c 'exec /usr/bin/time -f %M -o "$0.rss.$OMPI_COMM_WORLD_RANK" "$@"' "$dir" \
    "$binary" run "$root/configs/fedsaf-synthetic.toml" --out "$dir" --fresh --force --quiet \
    --set run.clients="$clients" --set run.join_ratio=0.1 --set run.rounds="$rounds" \
    --set run.eval_every="$rounds" --set run.checkpoint_every="$rounds" \
    --set data.synthetic.min_samples=20 --set data.synthetic.max_samples=100 \
    --set model.hidden=[200] --set model.n_head=2 "$@" >"$dir.log" 2>&1 ||
    { cat "$dir.log" >&2; return 1; }
  end=$(date +%s.%N)
  "$py" - "$dir" "$name" "$clients" "$start" "$end" "${fedavg_train:-0}" <<'EOF'
import glob, os, sys
import h5py, numpy as np
d, name, clients, start, end, base = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
with h5py.File(d + '/run.h5', 'r') as f:
    wall = f['metrics/rounds/wall_seconds'][:]
    evaluated = int(f['partition/eval_clients'].shape[0]) if 'partition/eval_clients' in f else clients
startup = (end - start) - wall.sum()
train = float(np.median(wall[1:-1])) if len(wall) > 2 else float(wall[0])
rss = [int(open(p).read().split()[-1]) / 1024 for p in sorted(glob.glob(d + '.rss.*'))]
ckpts = sorted(glob.glob(d + '/checkpoints/ckpt-*.h5'))
ratio = lambda s: f'{s / base:.2f}' if base > 0 else '-'
print(f'| {name} | {clients} | {evaluated} | {startup:.1f} | {train:.2f} ({ratio(train)}) | {wall[-1]:.2f} ({ratio(wall[-1])}) '
      f'| {" / ".join(f"{r:.0f}" for r in rss)} | {os.path.getsize(d + "/run.h5") / 1e6:.1f} '
      f'| {os.path.getsize(ckpts[-1]) / 1e6 if ckpts else 0:.1f} |')
print(f'{train}', file=open(d + '.train', 'w'))
EOF
}

echo "| case | clients | evaluated | before round 1, s | training round, s (× fedavg's) | evaluation round, s (× fedavg's training round) | peak RSS per rank, MB | run file, MB | checkpoint, MB |"
echo "|---|---|---|---|---|---|---|---|---|"
for clients in $clients_list; do
  fedavg_train=0
  run_case fedavg "$clients" --set run.algorithm=fedavg
  fedavg_train="$(cat "$out/fedavg-$clients.train")"
  run_case fedsaf "$clients" --set run.algorithm=fedsaf
  if [ "$clients" -gt 1000 ]; then
    run_case fedsaf-eval1000 "$clients" --set run.algorithm=fedsaf --set run.eval_clients=1000
  fi
done
