#!/usr/bin/env bash
# Slurm across the nodes of a cluster in a box (CTest test_cluster_slurm): slurmctld and a slurmd
# per node (tests/cluster/slurm_nodes.sh); `sbatch --nodes=2 --ntasks-per-node=2
# jobs/fedsaf.sbatch` runs through srun --mpi=pmix and through mpirun inside the allocation, each
# with its ranks on node1,node1,node2,node2 and results bit for bit those of 1 node × 4 ranks.
# Exit 77 (skipped) where no cluster can be made or Slurm/munge are missing.
# Usage: test_slurm_across_nodes.sh FEDSAF_BINARY
set -u
# shellcheck source=tests/cluster/cluster_test.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster_test.sh"
# shellcheck source=tests/cluster/slurm_nodes.sh
source "$CLUSTER_TESTS/slurm_nodes.sh"
slurm_test_start "${1:?usage: test_slurm_across_nodes.sh FEDSAF_BINARY}" 2
read -r -a args <<<"$(cluster_run_args) --quiet --set run.rounds=6"
out=$CLUSTER_WORK/runs
mkdir -p "$out"

cluster_mpirun_within 120 node1:4 "$CLUSTER_BINARY" "${args[@]}" --out "$out/reference" >"$out-reference.log" 2>&1 ||
  { cluster_fail "the 1-node reference run failed"; cat "$out-reference.log"; }

# submit NAME LAUNCHER: the batch script (CONFIG, then run options: args without "run") over
# 2 nodes × 2 tasks; sbatch --wait returns the job's status. --time=2: a stuck job (a rank that
# died leaves the others waiting: the script runs srun --kill-on-bad-exit=0) ends in minutes.
# Open MPI's interfaces come through the environment (slurm_submit).
submit() {
  local t0 rc
  t0=$(date +%s.%N)
  FEDSAF_LAUNCHER=$2 slurm_submit timeout -k 5 150 sbatch --wait --time=2 --job-name="$1" \
    --nodes=2 --ntasks-per-node=2 --output="$out/$1-%j.out" \
    "$CLUSTER_REPO/jobs/fedsaf.sbatch" "${args[@]:1}" --out "$out/$1" >"$out-$1.sbatch" 2>&1
  rc=$?
  echo "$1 (sbatch, launcher $2): exit status $rc after $(cluster_since "$t0") s"
  if [ "$rc" -ne 0 ]; then
    cluster_fail "the $2 job exited $rc"
    cat "$out-$1.sbatch" "$out/$1"-*.out 2>/dev/null
    return
  fi
  grep -q "launcher=$2" "$out/$1/slurm-jobs.log" || cluster_fail "the job did not use $2: $(cat "$out/$1/slurm-jobs.log")"
  /usr/bin/python3 "$CLUSTER_TESTS/check_hosts.py" "$out/$1/run.h5" node1,node1,node2,node2 ||
    cluster_fail "the $2 job's ranks were not on node1,node1,node2,node2"
  /usr/bin/python3 "$CLUSTER_TESTS/compare_results.py" "$out/$1/run.h5" "$out/reference/run.h5" 0 ||
    cluster_fail "the $2 job's results differ from 1 node × 4 ranks"
}

submit srun srun
submit mpirun mpirun
cluster_test_end
