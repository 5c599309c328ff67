#!/usr/bin/env bash
# A node dies mid-run (CTest test_cluster_node_failure): fedsaf at 2 nodes × 2 ranks with
# checkpoints every 2 rounds; once a checkpoint exists every process of node2 is killed and its
# link goes down. The MPI job must end (non-zero) within 30 s; the same command on the remaining
# node at 2 ranks then resumes from the last checkpoint and finishes within 1e-5 of an unbroken
# run (4 ranks, which 2 nodes × 2 ranks match bit for bit: test_mpi_across_nodes.sh). Exit 77 (skipped) where no cluster can be made.
# Usage: test_node_failure.sh FEDSAF_BINARY
set -u
# shellcheck source=tests/cluster/cluster_test.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster_test.sh"
cluster_test_start "${1:?usage: test_node_failure.sh FEDSAF_BINARY}" 2
cluster_failure_setup

# The run that loses node2 once its second checkpoint exists (past start-up, with one to spare).
cluster_mpirun_within 180 node1:2,node2:2 "$CLUSTER_BINARY" "${args[@]}" --out "$out/broken" >"$out-broken.log" 2>&1 &
job=$!
for ((i = 0; i < 6000; i++)); do
  [ -e "$out/broken/checkpoints/ckpt-000004.h5" ] || ! kill -0 "$job" 2>/dev/null && break
  sleep 0.02
done
killed_at=$(date +%s.%N)
cluster_kill_node node2
wait "$job"
rc=$?
secs=$(cluster_since "$killed_at")
echo "node2 killed: mpirun ended with status $rc after $secs s"
[ "$rc" -ne 0 ] || cluster_fail "the run finished although node2 died (status 0): it ended before the kill"
[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || cluster_fail "the job hung after node2 died (killed by timeout)"
awk -v s="$secs" 'BEGIN { exit !(s < 30) }' || cluster_fail "the job took $secs s (≥ 30 s) to end after node2 died"
echo "----- what the user sees (last lines) -----"
tail -n 15 "$out-broken.log"
echo "-------------------------------------------"
# Open MPI names the lost daemon's node ("Remote daemon: ... on node node2").
grep -q "on node node2" "$out-broken.log" || cluster_fail "nothing in the output names the lost node (node2)"

# Resume on the node that is left, at another rank count.
cluster_mpirun_within 180 node1:2 "$CLUSTER_BINARY" "${args[@]}" --resume --out "$out/broken" >"$out-resumed.log" 2>&1 ||
  { cluster_fail "the resume on node1 failed"; cat "$out-resumed.log"; }
grep "resuming from" "$out-resumed.log" || cluster_fail "the resumed run did not say which checkpoint it resumed from"
grep -q "after round $rounds of" "$out-resumed.log" && cluster_fail "the run had finished before the kill"
/usr/bin/python3 "$CLUSTER_TESTS/compare_results.py" "$out/broken/run.h5" "$out/unbroken/run.h5" 1e-5 ||
  cluster_fail "the resumed run differs from the unbroken one by more than 1e-5"
/usr/bin/python3 "$CLUSTER_TESTS/check_hosts.py" "$out/broken/run.h5" node1,node1 ||
  cluster_fail "the resumed segment's /ranks/hostname does not name node1"
cluster_test_end
