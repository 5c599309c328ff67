#!/usr/bin/env bash
# What the cluster tests share (sourced): starting a cluster in a box for one test with its
# teardown in a trap, and mpirun across its nodes as one would on a real cluster with ssh.

# shellcheck source=tests/cluster/cluster.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"
CLUSTER_TESTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLUSTER_REPO="$(cd "$CLUSTER_TESTS/../.." && pwd)"

cluster_test_failures=0
cluster_fail() { echo "FAIL: $*"; cluster_test_failures=$((cluster_test_failures + 1)); }

# Seconds since $1 (a `date +%s.%N`), two decimals.
cluster_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

# cluster_test_start BINARY N: skips (77) where no cluster can be made, else starts N nodes with a
# work folder (CLUSTER_WORK) beside the current one; a trap tears everything down on any exit.
cluster_test_start() {
  CLUSTER_BINARY=$(realpath -m "$1")
  [ -x "$CLUSTER_BINARY" ] || { echo "FAIL: fedsaf binary $CLUSTER_BINARY not found or not executable"; exit 1; }
  cluster_check
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
  CLUSTER_WORK=$(mktemp -d "${CLUSTER_WORK_ROOT:-$PWD}/fedsaf-cluster.XXXXXX")
  # The nodes' /tmp is private: what lives there on the host (a checkout or build in /tmp) is
  # bound back in, as a cluster file system would show it on every node.
  local bin_dir
  bin_dir=$(cd "$(dirname "$CLUSTER_BINARY")" && pwd)
  [ "$bin_dir" != /tmp ] || bin_dir=$CLUSTER_BINARY  # never the whole /tmp: it must stay private
  export CLUSTER_SHARED="$CLUSTER_WORK:$CLUSTER_REPO:$bin_dir"
  trap 'cluster_down; if [ "${CLUSTER_KEEP:-0}" = 1 ]; then echo "kept $CLUSTER_WORK"; else rm -rf "$CLUSTER_WORK"; fi' EXIT
  trap 'exit 143' TERM INT
  cluster_up "$CLUSTER_WORK/cluster" "$2" || { echo "FAIL: the cluster did not start"; exit 1; }
}

# cluster_mpirun HOSTS ARGS...: mpirun started on node1 (the "login node") over the hosts
# (node1:2,node2:2), ssh replaced by the namespace agent; MPI and Open MPI's own wiring use only
# the cluster's subnet. yield_when_idle: more ranks than cores here, so waiting ranks must not spin.
# A short out-of-band keepalive (2 s idle, 3 probes 1 s apart): a node whose last packets were
# lost is noticed in seconds; with the defaults (300 s, 9 × 20 s) the job hangs for minutes.
cluster_mpirun() {
  local hosts=$1
  shift
  cluster_exec node1 mpirun --host "$hosts" \
    --mca plm_rsh_agent "$CLUSTER_TESTS/rsh-agent.sh" --mca plm_rsh_no_tree_spawn 1 \
    --mca btl_tcp_if_include "$CLUSTER_SUBNET" --mca oob_tcp_if_include "$CLUSTER_SUBNET" \
    --mca oob_tcp_keepalive_time 2 --mca oob_tcp_keepalive_intvl 1 --mca oob_tcp_keepalive_probes 3 \
    --mca mpi_yield_when_idle 1 --bind-to none -x OMP_NUM_THREADS "$@"
}

# cluster_mpirun_within SECONDS HOSTS ARGS...: cluster_mpirun, killed after SECONDS (status 124):
# a hung job fails its test instead of stalling CI.
cluster_mpirun_within() {
  local limit=$1
  shift
  timeout -k 5 "$limit" bash -c 'source "$0"; cluster_mpirun "$@"' "$CLUSTER_TESTS/cluster_test.sh" "$@"
}

# fedsaf's arguments for the tests' small run: FedSAF on synthetic data, 8 clients, an MLP.
cluster_run_args() {
  echo run "$CLUSTER_REPO/configs/fedsaf-synthetic.toml" --set run.clients=8 --set model.hidden=[32]
}

# cluster_failure_setup: what the failure tests (a node killed, a link cut, under mpirun or Slurm)
# share: a 12-round run with a checkpoint every 2 rounds, so one exists well before the end to
# resume from. Sets rounds, args (fedsaf's) and out (the runs' folder), and runs it unbroken at
# node1 × 4 ranks into $out/unbroken: the results the resumed run must reach.
cluster_failure_setup() {
  rounds=12
  read -r -a args <<<"$(cluster_run_args) --set run.rounds=$rounds --set run.checkpoint_every=2 --set run.checkpoint_keep=3"
  out=$CLUSTER_WORK/runs
  mkdir -p "$out"
  cluster_mpirun_within 120 node1:4 "$CLUSTER_BINARY" "${args[@]}" --quiet --out "$out/unbroken" >"$out-unbroken.log" 2>&1 ||
    { cluster_fail "the unbroken run failed"; cat "$out-unbroken.log"; }
}

cluster_test_end() {
  if [ "$cluster_test_failures" -gt 0 ]; then
    echo "$cluster_test_failures check(s) failed"
    exit 1
  fi
  echo "all checks passed"
  exit 0
}
