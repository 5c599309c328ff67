#!/usr/bin/env bash
# Fuzzes fedsaf's input readers (fuzz/README.md): builds the libFuzzer targets with clang into
# build-fuzz/ (once; later runs rebuild only what changed), replays every input of fuzz/corpus/ and
# fuzz/regressions/ through its target (the regression test), then fuzzes each target for
# SECONDS_PER_TARGET from that corpus. Exits non-zero on any finding (crash, sanitizer report,
# uncaught exception, allocation over the limit, hang), naming the input that caused it.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]    (default 20 s; every target)
#
#   FUZZ_BUILD_DIR  build folder (default build-fuzz)
#   FUZZ_JOBS       parallel compile jobs (default: by cores and memory, as scripts/build.sh)
#   CI=true         writes nothing into the repository beyond the build folder: the corpus the
#                   fuzzer grows and its findings go to a temporary folder (findings are also
#                   printed in base64). Otherwise both stay in FUZZ_BUILD_DIR/work/ for the next run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${1:-20}"
if [ $# -gt 0 ]; then shift; fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config idx cifar10 hdf5_dataset checkpoint run_file)

# ---- per-target options ---------------------------------------------------------------------------
# Limits that make a finding of what a reader must never do with a small input: allocate beyond
# -malloc_limit_mb (fuzz_hdf5_dataset claims a 256 MiB machine: fuzz/support/small_machine.cpp),
# grow beyond -rss_limit_mb, spend more than -timeout seconds on one input.
limits=(-rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=30)
max_len() {
  case "$1" in
    cifar10) echo 16384 ;;  # a few 3073-byte records
    config | idx) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

# ---- build ----------------------------------------------------------------------------------------
# The first clang whose libFuzzer runtime is installed (Debian: clang-14 with libclang-rt-14-dev).
cc="" cxx=""
for suffix in -14 ""; do
  if command -v "clang$suffix" >/dev/null && command -v "clang++$suffix" >/dev/null &&
     [ -f "$("clang$suffix" -print-runtime-dir)/libclang_rt.fuzzer-x86_64.a" ]; then
    cc="$(command -v "clang$suffix")" cxx="$(command -v "clang++$suffix")"
    break
  fi
done
if [ -z "$cc" ]; then
  echo "fuzz: no clang with libFuzzer (Debian: clang-14 and libclang-rt-14-dev; scripts/install-deps.sh)" >&2
  exit 1
fi
if [ ! -f "$build/build.ninja" ]; then
  # LibTorch as scripts/build.sh finds it: Torch_DIR, else the project's .venv, else the system's.
  torch_root=""
  if [ -n "${Torch_DIR:-}" ]; then
    torch_root="$(cd "$Torch_DIR/../../.." && pwd)"
  elif [ "${FEDSAF_TORCH:-pip}" = pip ] && [ -x "$root/.venv/bin/python" ]; then
    torch_root="$("$root/.venv/bin/python" -c 'import os, torch; print(os.path.dirname(torch.__file__))' 2>/dev/null)"
  fi
  cmake -S "$root/fuzz" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" \
    ${torch_root:+-DTORCH_ROOT="$torch_root"}
fi
if [ -z "${FUZZ_JOBS:-}" ]; then
  mem_gb=$(awk '/MemAvailable/ {print int($2 / 1048576)}' /proc/meminfo)
  FUZZ_JOBS=$(( $(nproc) < mem_gb / 2 ? $(nproc) : mem_gb / 2 ))
  [ "$FUZZ_JOBS" -ge 1 ] || FUZZ_JOBS=1
fi
build_start=$SECONDS
ninja -C "$build" -j "$FUZZ_JOBS" $(printf 'fuzz_%s ' "${targets[@]}")
echo "fuzz: build up to date ($((SECONDS - build_start)) s)"

# ---- work folders ---------------------------------------------------------------------------------
scratch="$(mktemp -d "${TMPDIR:-/tmp}/fedsaf-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
if [ "${CI:-}" = true ]; then
  work="$scratch/work"
else
  work="$build/work"
fi
# The targets write each input to files: in memory when /dev/shm allows (much faster).
files="$scratch/files"
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  files="$(mktemp -d /dev/shm/fedsaf-fuzz.XXXXXX)"
  trap 'rm -rf "$scratch" "$files"' EXIT
fi
mkdir -p "$files"
FEDSAF_FUZZ_DICT="$build/config.dict" "$build/fuzz_config" >/dev/null 2>&1 || true

findings=()
failing=()  # committed inputs that fail the replay: left out of the fuzzing corpus

# Inputs kept in the repository for a target: its seeds, then the regression inputs.
repo_inputs() {
  find "$root/fuzz/corpus/$1" "$root/fuzz/regressions/$1" -type f ! -name '.*' ! -name '*.md' 2>/dev/null | sort
}

# Prints the sanitizer or libFuzzer report of a log: from its first error line on, with the stack
# frames in fedsaf's sources and the harness only.
report() {
  awk '/ERROR: |runtime error|fedsaf fuzz: property|terminate called|SUMMARY/ {p = 1} p' "$1" |
    grep -E "ERROR|runtime error|fedsaf fuzz|terminate|what\(\)|SUMMARY|$root/(src|io|mpi|fuzz)/" |
    head -n 25 || true
}

# ---- 1. replay: every committed input must pass ---------------------------------------------------
echo "fuzz: replaying fuzz/corpus and fuzz/regressions"
for t in "${targets[@]}"; do
  mapfile -t inputs < <(repo_inputs "$t")
  [ ${#inputs[@]} -gt 0 ] || continue
  log="$scratch/replay-$t.log"
  if TMPDIR="$files" "$build/fuzz_$t" "${limits[@]}" "${inputs[@]}" >"$log" 2>&1; then
    echo "  $t: ${#inputs[@]} inputs pass"
    continue
  fi
  # One process stops at the first failure: try each input alone to name every failing one.
  for input in "${inputs[@]}"; do
    if ! TMPDIR="$files" "$build/fuzz_$t" "${limits[@]}" "$input" >"$log" 2>&1; then
      echo "  $t: FAILS: ${input#"$root"/}"
      report "$log" | sed 's/^/      /'
      findings+=("$t: ${input#"$root"/} fails the replay ($build/fuzz_$t $input)")
      failing+=("$input")
    fi
  done
done

# ---- 2. fuzz each target for a bounded time -------------------------------------------------------
[ "$seconds" -gt 0 ] && echo "fuzz: ${seconds} s per target (corpus and findings in $work)"
for t in "${targets[@]}"; do
  [ "$seconds" -gt 0 ] || break
  corpus="$work/corpus/$t"
  artifacts="$work/findings/$t/$(date +%Y%m%d-%H%M%S)"
  mkdir -p "$corpus" "$artifacts"
  # The repository's inputs are copied in, never given to libFuzzer as folders it could write to;
  # those failing the replay are left out (the fuzzer would stop at them).
  repo_inputs "$t" | while read -r input; do
    printf '%s\n' "${failing[@]}" | grep -qxF "$input" || cp "$input" "$corpus/"
  done
  dict=()
  [ "$t" = config ] && [ -s "$build/config.dict" ] && dict=(-dict="$build/config.dict")
  log="$work/fuzz-$t.log"
  status=0
  TMPDIR="$files" "$build/fuzz_$t" "${limits[@]}" -max_len="$(max_len "$t")" -max_total_time="$seconds" \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" "$corpus" >"$log" 2>&1 || status=$?
  stats="$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' || true)"
  runs="$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')"
  if [ "$status" -eq 0 ]; then
    echo "  $t: no finding ($runs inputs; $stats)"
    rmdir "$artifacts" 2>/dev/null || true
    continue
  fi
  artifact="$(ls -t "$artifacts" 2>/dev/null | head -n 1)"
  echo "  $t: FINDING (exit $status): ${artifact:+$artifacts/$artifact}"
  report "$log" | sed 's/^/      /'
  if [ -n "$artifact" ] && [ "${CI:-}" = true ] && [ "$(stat -c %s "$artifacts/$artifact")" -le 65536 ]; then
    echo "      input (base64): $(base64 -w0 "$artifacts/$artifact")"
  fi
  if [ "${CI:-}" = true ]; then
    findings+=("$t: a new input (printed above in base64; reproduce: $build/fuzz_$t FILE)")
  else
    findings+=("$t: $artifacts/$artifact (reproduce: $build/fuzz_$t $artifacts/$artifact; log: $log)")
  fi
done

if [ ${#findings[@]} -gt 0 ]; then
  echo "fuzz: ${#findings[@]} finding(s); keep each new input as fuzz/regressions/<target>/<what-it-was>:" >&2
  printf '  %s\n' "${findings[@]}" >&2
  exit 1
fi
echo "fuzz: no findings"
