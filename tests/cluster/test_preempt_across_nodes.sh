#!/usr/bin/env bash
# SIGUSR1 preemption across nodes (CTest test_cluster_preempt): fedsaf at 2 nodes × 2 ranks gets
# SIGUSR1 after its second round, two ways: sent to mpirun on node1 alone, which forwards it to
# every rank on both nodes (`#SBATCH --signal=B:USR1@LEAD`, the batch script passing it on), and
# sent to mpirun and every rank on both nodes at once (Slurm signalling all of a job's processes;
# a rank then gets it twice, which must count as one). Each time mpirun must exit 75 within 30 s,
# leaving a checkpoint written because of the signal (checkpoint_every 0, fewer rounds than the
# run's) that holds every rank's clients (world_size 4, rows for all 8 clients, complete). The
# same command then resumes: the first at 2 nodes × 2 ranks (results bit for bit those of an
# unbroken run at 4 ranks), the second at 1 node × 2 ranks (within 1e-5). Exit 77 (skipped) where
# no cluster can be made.
# Usage: test_preempt_across_nodes.sh FEDSAF_BINARY
set -u
# shellcheck source=tests/cluster/cluster_test.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster_test.sh"
cluster_test_start "${1:?usage: test_preempt_across_nodes.sh FEDSAF_BINARY}" 2
rounds=12 clients=8
read -r -a args <<<"$(cluster_run_args) --set run.rounds=$rounds --set run.checkpoint_every=0"
out=$CLUSTER_WORK/runs
mkdir -p "$out"

# The pids of NODE's processes whose command is $CLUSTER_BINARY (the ranks) or mpirun.
node_ranks() {
  local p
  for p in $(cluster_node_processes "$1"); do
    [ "$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | head -n 1)" = "$CLUSTER_BINARY" ] && echo "$p"
  done
}
node_mpirun() {
  local p
  for p in $(cluster_node_processes "$1"); do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = mpirun ] && echo "$p"
  done
}

# checkpoint_every 0: checkpoints only on a stop signal and after the last round, so a checkpoint
# of fewer rounds can only have been written because of the signal.
# The unbroken run, for the results (2 nodes × 2 ranks give its results bit for bit).
t0=$(date +%s.%N)
cluster_mpirun_within 120 node1:4 "$CLUSTER_BINARY" "${args[@]}" --quiet --out "$out/unbroken" >"$out-unbroken.log" 2>&1 ||
  { cluster_fail "the unbroken run failed"; cat "$out-unbroken.log"; }
echo "unbroken run (node1:4): $(cluster_since "$t0") s"

# wait_round LOG JOB R: until the run logging to LOG has printed round R or JOB has ended.
wait_round() {
  local i
  for ((i = 0; i < 6000; i++)); do
    grep -q "^round $3/" "$1" || ! kill -0 "$2" 2>/dev/null && break
    sleep 0.02
  done
}

# preempt NAME HOW: the 2 × 2 run into $out/NAME, sent SIGUSR1 (HOW: mpirun | all, all being
# every rank on both nodes and mpirun at once) after its second round; checks the exit and the
# checkpoint it leaves.
preempt() {
  local name=$1 how=$2 dir=$out/$1 log=$out-$1.log job rc secs t_sig ckpt pids=()
  cluster_mpirun_within 180 node1:2,node2:2 "$CLUSTER_BINARY" "${args[@]}" --out "$dir" >"$log" 2>&1 &
  job=$!
  wait_round "$log" "$job" 1  # every rank is up: find them, then signal as soon as round 2 is done
  local want=5
  [ "$how" = mpirun ] && want=1
  mapfile -t pids < <(node_mpirun node1; [ "$how" = mpirun ] || { node_ranks node1; node_ranks node2; })
  echo "$name: SIGUSR1 to $how: pids ${pids[*]}"
  [ "${#pids[@]}" -eq "$want" ] ||
    cluster_fail "$name: found ${#pids[@]} process(es) to signal, not $want ($how)"
  wait_round "$log" "$job" 2
  t_sig=$(date +%s.%N)
  [ "${#pids[@]}" -eq 0 ] || kill -USR1 "${pids[@]}"
  wait "$job"
  rc=$?
  secs=$(cluster_since "$t_sig")
  echo "$name: mpirun exited with status $rc $secs s after SIGUSR1"
  [ "$rc" -eq 75 ] || { cluster_fail "$name: mpirun exited $rc, not 75"; tail -n 20 "$log"; }
  awk -v s="$secs" 'BEGIN { exit !(s < 30) }' || cluster_fail "$name: took $secs s (≥ 30 s) to stop"
  grep "stopped by a signal" "$log" || cluster_fail "$name: fedsaf did not say it stopped on a signal"
  ckpt=$(find "$dir/checkpoints" -name 'ckpt-*.h5' -printf '%f\n' 2>/dev/null | sort | tail -n 1)
  [ -n "$ckpt" ] || { cluster_fail "$name: no checkpoint after the signal"; return; }
  /usr/bin/python3 - "$dir/checkpoints/$ckpt" "$clients" "$rounds" <<'EOF' || cluster_fail "$name: checkpoint $ckpt lacks some rank's state"
import sys, h5py
path, clients, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with h5py.File(path, "r") as f:
    c = f["checkpoint"].attrs
    ok = c["complete"] == 1 and c["world_size"] == 4 and 0 < c["rounds_done"] < rounds
    per_client = [n for n, g in f["checkpoint/state"].items() if isinstance(g, h5py.Group) and g.attrs["rows"] > 0]
    for n in per_client:
        ok &= sorted(f[f"checkpoint/state/{n}/clients"][()].tolist()) == list(range(clients))
    print(f"{path}: rounds_done {c['rounds_done']}, world_size {c['world_size']}, "
          f"per-client states {per_client} with rows for all {clients} clients: {'yes' if ok else 'NO'}")
sys.exit(0 if ok and per_client else 1)
EOF
}

# resume NAME HOSTS: the same command again, on HOSTS.
resume() {
  local t0
  t0=$(date +%s.%N)
  cluster_mpirun_within 180 "$2" "$CLUSTER_BINARY" "${args[@]}" --resume --out "$out/$1" >"$out-$1-resumed.log" 2>&1 ||
    { cluster_fail "the resume of $1 on $2 failed"; cat "$out-$1-resumed.log"; }
  echo "$1 resumed on $2: $(grep -o "resuming from.*" "$out-$1-resumed.log") ($(cluster_since "$t0") s)"
}

preempt via-mpirun mpirun
resume via-mpirun node1:2,node2:2
preempt via-all all
resume via-all node1:2

compare=$CLUSTER_TESTS/compare_results.py
/usr/bin/python3 "$compare" "$out/via-mpirun/run.h5" "$out/unbroken/run.h5" 0 ||
  cluster_fail "the run resumed at 2 nodes × 2 ranks differs from the unbroken run"
/usr/bin/python3 "$compare" "$out/via-all/run.h5" "$out/unbroken/run.h5" 1e-5 ||
  cluster_fail "the run resumed at 1 node × 2 ranks differs from the unbroken run by more than 1e-5"
/usr/bin/python3 "$CLUSTER_TESTS/check_hosts.py" "$out/via-all/run.h5" node1,node1 ||
  cluster_fail "the 1-node resume's /ranks/hostname does not name node1"
cluster_test_end
