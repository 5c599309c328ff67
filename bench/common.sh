# shellcheck shell=bash disable=SC2154
# Sourced by the benchmark scripts under bench/ (and bench/round_time.sh): functions only, so
# that sourcing changes nothing by itself. bench_binary expects $root (the repository).

# bench_env: MPI as root and more ranks than cores (these machines), one OpenMP thread per rank,
# idle threads that sleep rather than spin.
bench_env() {
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
  export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
}

# bench_python: the Python that has h5py and numpy (Debian's /usr/bin/python3 here, python3 elsewhere).
bench_python() {
  if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import h5py' 2>/dev/null; then echo /usr/bin/python3; else echo python3; fi
}

# bench_binary: the fedsaf binary to measure: $FEDSAF_BINARY (another build, e.g. an older one
# for a before/after table), else this checkout's, built first (scripts/build.sh).
bench_binary() {
  if [ -n "${FEDSAF_BINARY:-}" ]; then
    echo "$FEDSAF_BINARY"
  else
    bash "$root/scripts/build.sh" fedsaf >/dev/null
    echo "$root/build/fedsaf"
  fi
}
