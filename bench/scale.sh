#!/usr/bin/env bash
# fedsaf at scale (issue 23): FedAvg and FedSAF on the built-in synthetic data (mlp, 20–100 samples
# per client, hidden layer 200, every layer shared: S = 14,210; a cohort of 10 % of the clients, at
# most 1,000) at 2 ranks, for each client count given, and FedSAF once more with a sampled
# evaluation (run.eval_clients = 1000); above 10,000 clients FedSAF only with the sampled
# evaluation (mixing every one of 100,000 clients for an evaluation is a study of its own). ξ is
# not stored (attention.every = 0: beyond 16,384 clients it cannot be). Rounds 1..ROUNDS-1 only train; the last round also evaluates.
# Per case: the seconds before round 1 (the run file's setup_seconds: from `fedsaf run`'s start,
# after MPI's, to round 1 on the slowest rank), the median training
# round and the evaluation round, each as a ratio to FedAvg's in the same script and to FedSAF's
# floor, the attention stage's share of the SGEMM peak, peak RSS per rank, and the run file's and
# last checkpoint's sizes. Machines here are noisy: compare ratios. A second table sets what
# `fedsaf plan --ranks 2` predicted for each case beside what the case measured.
#
# The yardstick is one core's SGEMM rate (build/bench/bench_sgemm), measured first in the same
# script. The attention stage's share of it: /attention/gemm_flops / (/attention/seconds × ranks ×
# rate). FedSAF's floor (issue 23): FedAvg's round + the Fisher pass + the attention arithmetic at
# the SGEMM rate, taken as FedAvg's round (same kind: training or evaluation) + (FedSAF's
# /timing/train_seconds − FedAvg's: the Fisher pass and FedSAF's other local work) + gemm_flops /
# (ranks × rate).
#
#   bash bench/scale.sh [CLIENTS="1000 10000"] [ROUNDS=4]       (FEDSAF_BINARY=... another build)
#
# 10,000 clients take about 5 minutes on 2 quiet cores; 100,000 about 20.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
clients_list="${1:-1000 10000}"
rounds="${2:-4}"
# shellcheck source=bench/common.sh
source "$root/bench/common.sh"
bench_env
py="$(bench_python)"
binary="$(bench_binary)"
bash "$root/scripts/build.sh" bench_sgemm >/dev/null
sgemm_gflops="$(OMP_NUM_THREADS=1 "$root/build/bench/bench_sgemm" 2048 5 | sed -n 's/.*GFLOP\/s \([0-9.]*\).*/\1/p')"
echo "One core's SGEMM rate (bench_sgemm 2048, best of 5): $sgemm_gflops GFLOP/s"
echo
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# case NAME CLIENTS ARGS...: runs one case, prints its row.
run_case() {
  local name="$1" clients="$2"
  shift 2
  local dir="$out/$name-$clients"
  local start end
  local settings=(--set run.clients="$clients"
    --set run.join_ratio="$(awk -v n="$clients" 'BEGIN { r = 1000 / n; print (r < 0.1 ? r : 0.1) }')"
    --set run.rounds="$rounds" --set run.eval_every="$rounds" --set run.checkpoint_every="$rounds"
    --set data.synthetic.min_samples=20 --set data.synthetic.max_samples=100
    --set model.hidden=[200] --set model.n_head=2 --set attention.every=0 "$@")
  # What `fedsaf plan` predicts for the same run, compared with it below (a build without the
  # command leaves DIR.plan.json empty).
  "$binary" plan "$root/configs/fedsaf-synthetic.toml" --ranks 2 --json "${settings[@]}" >"$dir.plan.json" 2>/dev/null || true
  start=$(date +%s.%N)
  # Each rank under /usr/bin/time: its peak RSS (KiB) into DIR.rss.RANK.
  mpirun -n 2 --bind-to none bash -c 'exec /usr/bin/time -f %M -o "$0.rss.$OMPI_COMM_WORLD_RANK" "$@"' "$dir" \
    "$binary" run "$root/configs/fedsaf-synthetic.toml" --out "$dir" --fresh --force --quiet "${settings[@]}" \
    >"$dir.log" 2>&1 || { cat "$dir.log" >&2; return 1; }
  end=$(date +%s.%N)
  "$py" - "$dir" "$name" "$clients" "$start" "$end" "$sgemm_gflops" "$out/fedavg-$clients.json" <<'EOF'
import glob, json, os, sys
import h5py, numpy as np
d, name, clients = sys.argv[1], sys.argv[2], int(sys.argv[3])
start, end, gflops, fedavg_json = float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
with h5py.File(d + '/run.h5', 'r') as f:
    wall = f['metrics/rounds/wall_seconds'][:]
    ranks = f['timing/train_seconds'].shape[1]
    train_s = f['timing/train_seconds'][:].max(axis=1)  # [R] the slowest rank's
    flops = f['attention/gemm_flops'][:] if 'attention/gemm_flops' in f else np.zeros(len(wall))
    att_s = f['attention/seconds'][:] if 'attention/seconds' in f else np.zeros(len(wall))
    evaluated = int(f['partition/eval_clients'].shape[0]) if 'partition/eval_clients' in f else clients
    setup = f.attrs.get('setup_seconds')
mid = slice(1, -1) if len(wall) > 2 else slice(0, 1)  # training rounds: not the first, not the evaluation
me = {'train': float(np.median(wall[mid])), 'eval': float(wall[-1]), 'evaluated': evaluated,
      'train_s': float(np.median(train_s[mid])), 'train_s_eval': float(train_s[-1])}
# The run file's set-up seconds; a build that records none: the process's wall time less the rounds
# (which also counts MPI's start, the last checkpoint and the exit).
startup = float(setup) if setup is not None else (end - start) - wall.sum()
base = json.load(open(fedavg_json)) if os.path.exists(fedavg_json) else None
def share(i):  # the attention stage's fraction of ranks × one core's SGEMM rate, in %
    return 100 * flops[i] / (att_s[i] * ranks * gflops * 1e9) if att_s[i] > 0 else float('nan')
def floor(kind, i):  # FedAvg's round + the Fisher pass + the attention at the SGEMM rate
    local = 'train_s' if kind == 'train' else 'train_s_eval'
    return base[kind] + (me[local] - base[local]) + flops[i] / (ranks * gflops * 1e9)
def cell(kind, i):
    # An evaluation of a sample is not compared with FedAvg's evaluation of every client.
    if base is None or name == 'fedavg' or (kind == 'eval' and evaluated != base['evaluated']):
        return f'{me[kind]:.2f}'
    # A build that records no /attention/gemm_flops has no floor to compare with.
    to_floor = f'{me[kind] / floor(kind, i):.1f}' if flops[i] > 0 else '-'
    return f'{me[kind]:.2f} ({me[kind] / base[kind]:.1f}, {to_floor})'
train_round = int(np.argsort(wall[mid])[len(wall[mid]) // 2]) + mid.start  # the median training round
att = lambda i: f'{share(i):.0f}' if flops[i] > 0 else '-'
rss = [int(open(p).read().split()[-1]) / 1024 for p in sorted(glob.glob(d + '.rss.*'))]
ckpts = sorted(glob.glob(d + '/checkpoints/ckpt-*.h5'))
print(f'| {name} | {clients} | {evaluated} | {startup:.1f} | {cell("train", train_round)} | {att(train_round)} '
      f'| {cell("eval", -1)} | {att(-1)} | {" / ".join(f"{r:.0f}" for r in rss)} | {os.path.getsize(d + "/run.h5") / 1e6:.1f} '
      f'| {os.path.getsize(ckpts[-1]) / 1e6 if ckpts else 0:.1f} |')
json.dump(me, open(d + '.json', 'w'))
# `fedsaf plan` against this run: predicted / measured, the issue's bar being 0.75–1.25 for memory
# and 0.5–2 for seconds.
try:
    plan = json.load(open(d + '.plan.json'))
except (OSError, ValueError):
    plan = None
if plan:
    peak = max(r['peak_bytes'] for r in plan['per_rank']) / 2**20
    ckpt = os.path.getsize(ckpts[-1]) if ckpts else 0
    with open(os.path.dirname(d) + '/plan-rows.md', 'a') as rows:
        rows.write(f'| {name} | {clients} | {peak:.0f} / {max(rss):.0f} = {peak / max(rss):.2f} '
                   f'| {plan["checkpoint_bytes"] / 1e6:.0f} / {ckpt / 1e6:.0f} = {plan["checkpoint_bytes"] / max(ckpt, 1):.2f} '
                   f'| {plan["train_round_seconds"]:.2f} / {me["train"]:.2f} = {plan["train_round_seconds"] / me["train"]:.2f} '
                   f'| {plan["eval_round_seconds"]:.2f} / {me["eval"]:.2f} = {plan["eval_round_seconds"] / me["eval"]:.2f} |\n')
EOF
}

echo "Round seconds in parentheses: (× FedAvg's round of the same kind, × FedSAF's floor)."
echo
echo "| case | clients | evaluated | before round 1, s | training round, s | attention in it, % of SGEMM | evaluation round, s | attention in it, % of SGEMM | peak RSS per rank, MB | run file, MB | checkpoint, MB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for clients in $clients_list; do
  run_case fedavg "$clients" --set run.algorithm=fedavg
  [ "$clients" -gt 10000 ] || run_case fedsaf "$clients" --set run.algorithm=fedsaf
  if [ "$clients" -gt 1000 ]; then
    run_case fedsaf-eval1000 "$clients" --set run.algorithm=fedsaf --set run.eval_clients=1000
  fi
done
if [ -s "$out/plan-rows.md" ]; then
  echo
  echo "\`fedsaf plan --ranks 2\` against the same runs, predicted / measured (peak: the larger rank's RSS, MiB):"
  echo
  echo "| case | clients | peak RSS per rank, MiB | checkpoint, MB | training round, s | evaluation round, s |"
  echo "|---|---|---|---|---|---|"
  cat "$out/plan-rows.md"
fi
