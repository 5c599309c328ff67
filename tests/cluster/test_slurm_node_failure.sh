#!/usr/bin/env bash
# A node dies under Slurm (CTest test_cluster_slurm_node_failure): `sbatch --requeue --nodes=2
# --ntasks-per-node=2 jobs/fedsaf.sbatch` with checkpoints every 2 rounds; once a checkpoint
# exists every process of node2 (its slurmd too) is killed. Slurm must mark node2 down and
# requeue the job (SlurmdTimeout=10: within 60 s); the requeued job, narrowed to the node left
# (1 node, 2 tasks) and started now rather than after Slurm's ~120 s hold, resumes from the
# checkpoint and finishes within 1e-5 of an unbroken 4-rank run. Exit 77 (skipped) where no
# cluster can be made or Slurm/munge are missing.
# Usage: test_slurm_node_failure.sh FEDSAF_BINARY
set -u
# shellcheck source=tests/cluster/cluster_test.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster_test.sh"
# shellcheck source=tests/cluster/slurm_nodes.sh
source "$CLUSTER_TESTS/slurm_nodes.sh"
slurm_test_start "${1:?usage: test_slurm_node_failure.sh FEDSAF_BINARY}" 2
cluster_failure_setup

# job FIELD: one field of the job's `scontrol show job` (JobState, Restarts, NodeList, ...).
job() { slurm_job_field "$jid" "$1" | head -n 1; }
wait_job() {  # wait_job SECONDS WHAT TEST...: until the test (on job fields) holds
  local limit=$1 what=$2 i
  shift 2
  for ((i = 0; i < limit * 2; i++)); do
    "$@" && return 0
    sleep 0.5
  done
  cluster_fail "$what not within $limit s (JobState=$(job JobState) Reason=$(job Reason) Restarts=$(job Restarts))"
  return 1
}

submitted=$(slurm_submit sbatch --requeue --time=3 --job-name=nodefail --nodes=2 --ntasks-per-node=2 \
  --output="$out/nodefail-%j.out" "$CLUSTER_REPO/jobs/fedsaf.sbatch" "${args[@]:1}" --out "$out/job" 2>&1)
jid=$(grep -oE "Submitted batch job [0-9]+" <<<"$submitted" | grep -oE "[0-9]+$")
[ -n "$jid" ] || { cluster_fail "sbatch failed: $submitted"; cluster_test_end; }

for ((i = 0; i < 3000; i++)); do
  [ -e "$out/job/checkpoints/ckpt-000004.h5" ] && break
  [ "$(job JobState)" = FAILED ] && break
  sleep 0.02
done
[ -e "$out/job/checkpoints/ckpt-000004.h5" ] || cluster_fail "the job wrote no checkpoint (state $(job JobState))"
killed_at=$(date +%s.%N)
cluster_kill_node node2
echo "node2 killed during job $jid (state $(job JobState), on $(job NodeList))"
node2_down() { slurm_cmd sinfo -h -n node2 -o %t | grep -q "^down"; }
requeued() { [ "$(job Restarts)" = 1 ] && [ "$(job JobState)" = PENDING ]; }
wait_job 60 "node2 marked down" node2_down && echo "node2 down after $(cluster_since "$killed_at") s"
wait_job 60 "the job requeued" requeued && echo "job $jid requeued after $(cluster_since "$killed_at") s ($(job Reason))"
# Only node1 is left: the job's shape must fit it, and Slurm holds a requeued job ~120 s.
slurm_cmd scontrol update JobId="$jid" NumNodes=1-1 NumTasks=2 NumCPUs=2 ||
  cluster_fail "scontrol update NumNodes=1-1 NumTasks=2 NumCPUs=2 refused"
slurm_cmd scontrol update JobId="$jid" StartTime=now || cluster_fail "scontrol update StartTime=now refused"
finished() { case $(job JobState) in COMPLETED | FAILED | CANCELLED | NODE_FAIL | TIMEOUT) return 0 ;; esac; return 1; }
wait_job 90 "the requeued job finished" finished
echo "job $jid: $(job JobState) (exit $(job ExitCode)) on $(job NodeList), $(cluster_since "$killed_at") s after the kill"
[ "$(job JobState)" = COMPLETED ] || { cluster_fail "the requeued job did not complete"; tail -n 30 "$out"/nodefail-*.out; }

echo "----- slurm-jobs.log -----"
cat "$out/job/slurm-jobs.log" 2>/dev/null
grep -q "restart=1 .*rc=0 action=complete" "$out/job/slurm-jobs.log" 2>/dev/null ||
  cluster_fail "slurm-jobs.log has no completed restart"
grep -q "resuming from .*ckpt-0000" "$out"/nodefail-*.out ||
  cluster_fail "the requeued job did not resume from a checkpoint"
grep -q "after round $rounds of" "$out"/nodefail-*.out && cluster_fail "the run had finished before the kill"
/usr/bin/python3 "$CLUSTER_TESTS/check_hosts.py" "$out/job/run.h5" node1,node1 ||
  cluster_fail "the resumed job's ranks were not on node1 × 2"
/usr/bin/python3 "$CLUSTER_TESTS/compare_results.py" "$out/job/run.h5" "$out/unbroken/run.h5" 1e-5 ||
  cluster_fail "the resumed job differs from the unbroken run by more than 1e-5"
cluster_test_end
