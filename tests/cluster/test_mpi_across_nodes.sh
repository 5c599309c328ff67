#!/usr/bin/env bash
# Open MPI across the nodes of a cluster in a box (CTest test_cluster_mpi): fedsaf at 2 nodes × 2
# ranks gives bit for bit the results of 1 node × 4 ranks, and those of 1 rank within 1e-5;
# /ranks/hostname names the node of every rank, and the ranks record bytes exchanged with the
# other node (none on one node). Exit 77 (skipped) where no cluster can be made.
# Usage: test_mpi_across_nodes.sh FEDSAF_BINARY
set -u
# shellcheck source=tests/cluster/cluster_test.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster_test.sh"
cluster_test_start "${1:?usage: test_mpi_across_nodes.sh FEDSAF_BINARY}" 2
read -r -a args <<<"$(cluster_run_args) --quiet --set run.rounds=6"
out=$CLUSTER_WORK/runs

# run NAME HOSTS: fedsaf under mpirun over HOSTS into $out/NAME; prints the time taken.
run() {
  local t0 rc
  t0=$(date +%s.%N)
  cluster_mpirun_within 180 "$2" "$CLUSTER_BINARY" "${args[@]}" --out "$out/$1" >"$out-$1.log" 2>&1
  rc=$?
  echo "$1 ($2): exit status $rc after $(cluster_since "$t0") s"
  [ "$rc" -eq 0 ] || { cluster_fail "$1 exited $rc"; cat "$out-$1.log"; }
}

mkdir -p "$out"
run two-nodes node1:2,node2:2
run one-node node1:4
run one-rank node1:1

compare=$CLUSTER_TESTS/compare_results.py
hosts=$CLUSTER_TESTS/check_hosts.py
/usr/bin/python3 "$compare" "$out/two-nodes/run.h5" "$out/one-node/run.h5" 0 ||
  cluster_fail "2 nodes × 2 ranks differ from 1 node × 4 ranks"
/usr/bin/python3 "$compare" "$out/two-nodes/run.h5" "$out/one-rank/run.h5" 1e-5 ||
  cluster_fail "2 nodes × 2 ranks differ from 1 rank by more than 1e-5"
/usr/bin/python3 "$hosts" "$out/two-nodes/run.h5" node1,node1,node2,node2 ||
  cluster_fail "the 2-node run's /ranks/hostname does not name the nodes"
/usr/bin/python3 "$hosts" "$out/one-node/run.h5" node1,node1,node1,node1 ||
  cluster_fail "the 1-node run's /ranks/hostname does not name node1"
off_node=$CLUSTER_TESTS/check_off_node.py
/usr/bin/python3 "$off_node" "$out/two-nodes/run.h5" some ||
  cluster_fail "the 2-node run's ranks recorded no bytes to or from the other node"
/usr/bin/python3 "$off_node" "$out/one-node/run.h5" none ||
  cluster_fail "the 1-node run recorded bytes to or from another node"
cluster_test_end
