#!/usr/bin/env bash
# The no-hang test (CTest test_mpi_fault). Runs test_mpi_fault_child under mpirun and checks:
#  - fatal:      one rank's error ends the whole job, non-zero status, within 30 s, and stderr
#                names the rank and the message (every other rank was waiting in a collective);
#  - agreed:     an error every rank detects gives a clean exit 1 with the message printed once;
#  - agreed-one: one rank's error at an agreed point: clean exit 1, message once, naming the rank;
#  - ok:         the control, exit 0.
# Usage: fault_check.sh CHILD MPIEXEC NUMPROC_FLAG [MPIEXEC_PREFLAGS...]
set -u
child=$1 mpiexec=$2 npflag=$3
shift 3
pre=("$@")
failures=0

now() { date +%s.%N; }

# run NP MODE: sets rc, out (stdout+stderr) and secs.
run() {
  local t0
  t0=$(now)
  out=$(timeout -k 5 60 "$mpiexec" "$npflag" "$1" --allow-run-as-root --oversubscribe "${pre[@]}" "$child" "$2" 2>&1)
  rc=$?
  secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
}

fail() {
  echo "FAIL: $*"
  echo "----- output -----"
  echo "$out"
  echo "------------------"
  failures=$((failures + 1))
}

count() { grep -cF -- "$1" <<<"$out"; }

for np in 2 4; do
  run "$np" fatal
  echo "fatal at $np ranks: exit status $rc after $secs s"
  if [ "$rc" -eq 0 ]; then fail "fatal at $np ranks: exit status 0"; fi
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then fail "fatal at $np ranks: hung (killed by timeout)"; fi
  if awk -v s="$secs" 'BEGIN { exit !(s >= 30) }'; then fail "fatal at $np ranks: took $secs s (limit 30)"; fi
  msg="fedsaf: rank 1: fatal: client 7 diverged: loss is nan (injected fault)"
  if [ "$(count "$msg")" -ne 1 ]; then fail "fatal at $np ranks: expected '$msg' once"; fi
  if [ "$(count "allreduce returned")" -ne 0 ]; then fail "fatal at $np ranks: a collective completed without rank 1"; fi
done

for np in 1 2 4; do
  run "$np" agreed
  echo "agreed at $np ranks: exit status $rc after $secs s"
  if [ "$rc" -ne 1 ]; then fail "agreed at $np ranks: exit status $rc, expected 1"; fi
  msg="fedsaf: error: config.toml: run.rounds must be positive, got -3"
  if [ "$(count "$msg")" -ne 1 ]; then fail "agreed at $np ranks: expected '$msg' exactly once"; fi
  if [ "$(count "MPI_ABORT")" -ne 0 ] || [ "$(count "fatal")" -ne 0 ]; then fail "agreed at $np ranks: job was aborted"; fi
done

run 4 agreed-one
echo "agreed-one at 4 ranks: exit status $rc after $secs s"
if [ "$rc" -ne 1 ]; then fail "agreed-one: exit status $rc, expected 1"; fi
msg="fedsaf: error: rank 3: data/clients.h5: client 3 has no samples"
if [ "$(count "$msg")" -ne 1 ]; then fail "agreed-one: expected '$msg' exactly once"; fi
if [ "$(count "MPI_ABORT")" -ne 0 ]; then fail "agreed-one: job was aborted"; fi

run 2 ok
echo "ok at 2 ranks: exit status $rc after $secs s"
if [ "$rc" -ne 0 ]; then fail "ok: exit status $rc"; fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all fault checks passed"
