#!/usr/bin/env bash
# The network fails mid-run (CTest test_cluster_link_cut): fedsaf at 2 nodes × 2 ranks with
# checkpoints every 2 rounds; once a checkpoint exists node2's link is cut while its processes
# live on (no connection is closed: nothing more arrives). With Open MPI's out-of-band keepalive
# short (cluster_mpirun: 2 s idle, 3 probes 1 s apart) the job must end within 20 s naming
# node2, and the checkpoints must be intact: the run resumes on node1 at 2 ranks and finishes
# within 1e-5 of an unbroken 4-rank run. Exit 77 (skipped) where no cluster can be made.
# Usage: test_link_cut.sh FEDSAF_BINARY
set -u
# shellcheck source=tests/cluster/cluster_test.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster_test.sh"
cluster_test_start "${1:?usage: test_link_cut.sh FEDSAF_BINARY}" 2
cluster_failure_setup

cluster_mpirun_within 120 node1:2,node2:2 "$CLUSTER_BINARY" "${args[@]}" --out "$out/cut" >"$out-cut.log" 2>&1 &
job=$!
for ((i = 0; i < 6000; i++)); do
  [ -e "$out/cut/checkpoints/ckpt-000004.h5" ] || ! kill -0 "$job" 2>/dev/null && break
  sleep 0.02
done
cut_at=$(date +%s.%N)
cluster_cut_link node2
wait "$job"
rc=$?
secs=$(cluster_since "$cut_at")
echo "node2's link cut: mpirun ended with status $rc after $secs s"
[ "$rc" -ne 0 ] || cluster_fail "the run finished although node2 was cut off (status 0): it ended before the cut"
[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || cluster_fail "the job hung after the link was cut (killed by timeout)"
awk -v s="$secs" 'BEGIN { exit !(s < 20) }' || cluster_fail "the job took $secs s (≥ 20 s) to end after the cut"
echo "----- what the user sees (last lines) -----"
tail -n 12 "$out-cut.log"
echo "-------------------------------------------"
grep -q "on node node2" "$out-cut.log" || cluster_fail "nothing in the output names the lost node (node2)"

cluster_mpirun_within 120 node1:2 "$CLUSTER_BINARY" "${args[@]}" --resume --out "$out/cut" >"$out-resumed.log" 2>&1 ||
  { cluster_fail "the resume on node1 failed"; cat "$out-resumed.log"; }
grep "resuming from" "$out-resumed.log" || cluster_fail "the resumed run did not say which checkpoint it resumed from"
grep -q "warning: checkpoint" "$out-resumed.log" && cluster_fail "a checkpoint was damaged: $(grep "warning: checkpoint" "$out-resumed.log")"
grep -q "after round $rounds of" "$out-resumed.log" && cluster_fail "the run had finished before the cut"
/usr/bin/python3 "$CLUSTER_TESTS/compare_results.py" "$out/cut/run.h5" "$out/unbroken/run.h5" 1e-5 ||
  cluster_fail "the resumed run differs from the unbroken one by more than 1e-5"
cluster_test_end
