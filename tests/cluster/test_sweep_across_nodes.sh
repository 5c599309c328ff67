#!/usr/bin/env bash
# A sweep over the nodes under Slurm (CTest test_cluster_sweep): `jobs/fedsaf-sweep`, run on node1,
# submits a 4-point sweep (2 algorithms × 2 seeds, 1 task each, 2 at a time, one point a node) as
# a job array and its `compare` analysis with --dependency=afterok. Every point's run.h5 must be
# complete, the points must have run on both node1 and node2 (their /ranks/hostname), and the
# analysis must have completed, written its outputs, and started only after every array task had
# ended (Slurm's times and the files' mtimes). Exit 77 (skipped) where no cluster can be made or
# Slurm/munge are missing.
# Usage: test_sweep_across_nodes.sh FEDSAF_BINARY
set -u
# shellcheck source=tests/cluster/cluster_test.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster_test.sh"
# shellcheck source=tests/cluster/slurm_nodes.sh
source "$CLUSTER_TESTS/slurm_nodes.sh"
slurm_test_start "${1:?usage: test_sweep_across_nodes.sh FEDSAF_BINARY}" 2
sweep=$CLUSTER_WORK/sweep
nodes=node1,node2

# exclusive: one point a node whatever a node's CPU count, so the 2 points running at once are on
# different nodes. time: a stuck point ends in minutes.
cat >"$CLUSTER_WORK/box.toml" <<EOF
name = "box"
config = "$CLUSTER_REPO/configs/fedsaf-synthetic.toml"
concurrency = 2
analysis = "compare"
[set]
"run.clients" = 8
"model.hidden" = [32]
"run.rounds" = 3
[grid]
"run.algorithm" = ["fedavg", "fedsaf"]
"run.seed" = [1, 2]
[slurm]
ntasks = 1
exclusive = true
time = "00:03:00"
[analysis_slurm]
time = "00:03:00"
EOF

# What a failure shows: the sweep's submissions and every job's output, and the controller's end.
show_logs() {
  echo "----- fedsaf-sweep -----"
  cat "$CLUSTER_WORK/sweep.log"
  for f in "$sweep"/logs/*.out; do [ -e "$f" ] && { echo "----- $f -----"; cat "$f"; }; done
  echo "----- slurmctld.log (last lines) -----"
  tail -n 20 "$SLURM_DIR/log/slurmctld.log"
}

t0=$(date +%s.%N)
slurm_submit timeout -k 5 60 /usr/bin/python3 "$CLUSTER_REPO/jobs/fedsaf-sweep" "$CLUSTER_WORK/box.toml" \
  --out "$sweep" >"$CLUSTER_WORK/sweep.log" 2>&1 ||
  { cluster_fail "fedsaf-sweep failed"; show_logs; cluster_test_end; }
array=$(sed -n 's/.*submitted array 0: .*job \([0-9]*\)$/\1/p' "$CLUSTER_WORK/sweep.log")
analysis=$(sed -n 's/.*submitted analysis job \([0-9]*\) .*/\1/p' "$CLUSTER_WORK/sweep.log")
[ -n "$array" ] && [ -n "$analysis" ] ||
  { cluster_fail "no array or analysis job id in fedsaf-sweep's output"; show_logs; cluster_test_end; }
echo "submitted: array job $array, analysis job $analysis"

# Until the queue is empty (array and analysis done, or the analysis cancelled by a failed point).
for ((i = 0; i < 480; i++)); do
  [ -z "$(slurm_cmd squeue -h -o %i 2>/dev/null)" ] && break
  sleep 0.5
done
echo "queue empty after $(cluster_since "$t0") s"
[ -z "$(slurm_cmd squeue -h -o %i 2>/dev/null)" ] ||
  cluster_fail "jobs still queued after 240 s: $(slurm_cmd squeue -h -o '%i %T %r' 2>/dev/null | tr '\n' ';')"

# Slurm's record of every array task and of the analysis (MinJobAge keeps finished jobs an hour).
echo "task  state  node  start  end"
paste <(slurm_job_field "$array" ArrayTaskId) <(slurm_job_field "$array" JobState) \
  <(slurm_job_field "$array" NodeList) <(slurm_job_field "$array" StartTime) <(slurm_job_field "$array" EndTime) |
  tee "$CLUSTER_WORK/tasks.tsv"
echo "analysis: $(slurm_job_field "$analysis" JobState) on $(slurm_job_field "$analysis" NodeList)," \
  "$(slurm_job_field "$analysis" StartTime) to $(slurm_job_field "$analysis" EndTime)"
[ "$(grep -c COMPLETED "$CLUSTER_WORK/tasks.tsv")" = 4 ] || cluster_fail "not all 4 array tasks completed"
[ "$(slurm_job_field "$analysis" JobState)" = COMPLETED ] || cluster_fail "the analysis job did not complete"

mapfile -t runs < <(sed 's|$|/run.h5|' "$sweep/arrays/g0.points")
[ "${#runs[@]}" = 4 ] || cluster_fail "the sweep has ${#runs[@]} points, not 4"
/usr/bin/python3 "$CLUSTER_TESTS/check_hosts.py" --spread "$nodes" "${runs[@]}" ||
  cluster_fail "the points did not all complete on $nodes between them"

# The analysis after the array: Slurm started it no earlier than the last task's end (whole
# seconds), and its outputs are newer than every point's last write (slurm-jobs.log, after run.h5).
last_end=$(slurm_job_field "$array" EndTime | sort | tail -n 1)
started=$(slurm_job_field "$analysis" StartTime)
[ -n "$last_end" ] && [[ ! "$started" < "$last_end" ]] ||
  cluster_fail "the analysis started at $started, before the last array task ended ($last_end)"
for f in compare.md summary.csv groups.csv; do
  [ -s "$sweep/analysis/$f" ] || cluster_fail "the analysis wrote no $sweep/analysis/$f"
done
for r in "${runs[@]}"; do
  for f in "$r" "$(dirname "$r")/slurm-jobs.log"; do
    [ -e "$f" ] && [ "$sweep/analysis/compare.md" -nt "$f" ] ||
      cluster_fail "$sweep/analysis/compare.md is not newer than $f (or one is missing)"
  done
done
[ "$cluster_test_failures" = 0 ] || show_logs
cluster_test_end
