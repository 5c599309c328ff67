#!/usr/bin/env bash
# Scaling across nodes, measured (issue 24 §6): FedAvg and FedSAF on the cluster in a box
# (tests/cluster/cluster.sh: nodes made of Linux namespaces, one veth each into a bridge) at 1, 2
# and 3 nodes, weak (CLIENTS_PER_NODE clients per node) and strong (TOTAL clients in all), one rank
# per node. Per run and node: the bytes that crossed the node's eth0 per round, fedsaf's own
# Communicator payload bytes per round (/timing/bytes_sent, bytes_received) and the seconds per
# round in training and in the collective phases (/timing/train_seconds, comm_seconds).
#
#   bash bench/multinode.sh OUT [ROUNDS=12] [BINARY=build/fedsaf]
#
# Writes OUT/multinode.tsv (one row per run and node) and prints it as a table, and OUT/link.tsv
# (the box's TCP bandwidth and latency between two nodes); then bench/multinode.py checks its byte
# model against the rows and projects round time to 64 nodes (OUT/model.txt). About 3 minutes on
# 2 cores. Settings: CLIENTS_PER_NODE (weak, default 20), TOTAL (strong, default 60).
#
# The case: configs/fedsaf-synthetic.toml (mlp, one hidden layer of 256, n_head = 1: FedSAF shares
# the hidden layer, S = 15,616 of P = 18,186), 100 samples per client (equal work per client),
# every client in every round (run.join_ratio = 1), FedSAF with its default ring exchange; the
# N × N attention matrix is not written (attention.every = 0: it would add a gather every 10th round).
#
# One rank per node: all of a rank's MPI traffic then crosses its node's eth0 (ranks sharing a node
# talk through shared memory, which no interface counts), so a node's bytes are its rank's and the
# two counts can be compared directly; and this machine has 2 cores, so 3 nodes are already one
# rank more than cores.
#
# Start-up is subtracted by a baseline: every case runs twice, for ROUNDS rounds and for 1 round,
# with the counters read just before and just after each mpirun; bytes per round = (Δ of the long
# run − Δ of the 1-round run) / (ROUNDS − 1). Both runs share what is not a round (mpirun's daemons
# and wiring, reading the data, the last round's evaluation, the final checkpoint and run-file
# close), so the difference is ROUNDS − 1 training rounds. Reading the counters after round 1 would
# need a hook into a running job; the difference needs none. The counters are /proc/net/dev's eth0
# read inside the node's network namespace: the nodes share the host's /sys, whose
# /sys/class/net lists the host's interfaces, not the node's.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out_dir="${1:?usage: bench/multinode.sh OUT [ROUNDS=12] [BINARY=build/fedsaf]}"
rounds="${2:-12}"
binary="${3:-$root/build/fedsaf}"
per_node="${CLIENTS_PER_NODE:-20}"
total="${TOTAL:-60}"
(( rounds >= 2 )) || { echo "ROUNDS must be ≥ 2 (the 1-round run is the baseline)" >&2; exit 2; }
mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"
# shellcheck source=bench/round_time.sh
source "$root/bench/round_time.sh"
# shellcheck source=tests/cluster/cluster_test.sh
source "$root/tests/cluster/cluster_test.sh"
# The runs' folders live under /tmp (shared into the nodes), removed by cluster_test_start's trap.
CLUSTER_WORK_ROOT="${CLUSTER_WORK_ROOT:-/tmp}" cluster_test_start "$binary" 3
export OMP_WAIT_POLICY=PASSIVE
py="$(bench_python)"
tsv="$out_dir/multinode.tsv"

# eth0 bytes of NODE: "RX TX", from /proc/net/dev inside the node's network namespace.
node_bytes() {
  # shellcheck disable=SC2016  # awk's fields, not the shell's
  cluster_exec "$1" awk '$1 == "eth0:" { print $2, $10 }' /proc/net/dev
}

# run_once DIR NODES CLIENTS ROUNDS ARGS...: fedsaf on node1..nodeNODES, one rank each, into DIR;
# DIR.bytes gets "NODE RX TX" before and after.
run_once() {
  local dir=$1 nodes=$2 clients=$3 n=$4 hosts="" k
  shift 4
  for ((k = 1; k <= nodes; k++)); do hosts+="${hosts:+,}node$k:1"; done
  : >"$dir.bytes"
  for ((k = 1; k <= nodes; k++)); do echo "node$k $(node_bytes "node$k")" >>"$dir.bytes"; done
  if ! cluster_mpirun_within 600 "$hosts" "$CLUSTER_BINARY" run "$root/configs/fedsaf-synthetic.toml" \
      --out "$dir" --fresh --force --quiet --set run.clients="$clients" --set run.rounds="$n" \
      --set run.eval_every="$n" --set run.checkpoint_every=0 --set model.hidden=[256] \
      --set data.synthetic.min_samples=100 --set data.synthetic.max_samples=100 --set attention.every=0 \
      "$@" >"$dir.log" 2>&1; then
    cat "$dir.log" >&2
    return 1
  fi
  for ((k = 1; k <= nodes; k++)); do echo "node$k $(node_bytes "node$k")" >>"$dir.bytes"; done
}

# run_case ALGORITHM SCALING NODES CLIENTS: the long run and its 1-round baseline, then the rows.
run_case() {
  local name="$1-$2-$3" dir="$CLUSTER_WORK/$1-$2-$3"
  if ! run_once "$dir-long" "$3" "$4" "$rounds" --set run.algorithm="$1" ||
     ! run_once "$dir-base" "$3" "$4" 1 --set run.algorithm="$1"; then
    echo "FAIL: $name" >&2
    return 1
  fi
  "$py" "$root/bench/multinode.py" row "$1" "$2" "$3" "$4" "$rounds" "$dir-long" "$dir-base" >>"$tsv"
}

# The box's own link (TCP between node1 and node2 over the bridge): the time model's check uses it.
cluster_exec node2 timeout 60 "$py" "$root/bench/multinode.py" probe-server "$(cluster_addr 2)" 45211 &
probe=$!
cluster_exec node1 timeout 60 "$py" "$root/bench/multinode.py" probe-client "$(cluster_addr 2)" 45211 >"$out_dir/link.tsv" ||
  echo "the link probe failed" >&2
wait "$probe"

"$py" "$root/bench/multinode.py" header >"$tsv"
echo "before: $(cat /proc/loadavg)" >"$out_dir/load.txt"  # the machine is shared: say how busy it was
status=0
for algorithm in fedavg fedsaf; do
  for nodes in 1 2 3; do
    run_case "$algorithm" weak "$nodes" $((per_node * nodes)) || status=1
    run_case "$algorithm" strong "$nodes" "$total" || status=1
  done
done
echo "after: $(cat /proc/loadavg)" >>"$out_dir/load.txt"
"$py" "$root/bench/multinode.py" table "$tsv"
echo
"$py" "$root/bench/multinode.py" model "$tsv" --link "$out_dir/link.tsv" | tee "$out_dir/model.txt"
echo "rows: $tsv; model: $out_dir/model.txt"
exit "$status"
