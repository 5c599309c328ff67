#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU and its own PyTorch but no package registry:
#   1. builds fedsaf and its gpu tests against that PyTorch's LibTorch into build-gpu/;
#   2. runs the `gpu` tests (tests/gpu) at 1 and 2 ranks;
#   3. benchmarks: FashionMNIST Dir(0.1), 20 clients, CNN, seconds per round at 1 and 2 ranks;
#      1000 synthetic clients (mlp, full participation), client updates per second;
#   4. prints one summary (also written to SUMMARY, default build-gpu/gpu-check.md).
# All within 10 minutes on a 16-core GPU machine (GPU_CHECK_SECONDS, default 600, bounds the whole). Without a GPU every step still runs
# to its end: the tests report skipped (exit 77) and the GPU benchmark is skipped.
#
#   bash scripts/gpu-check.sh
#
# Where the rest comes from: Open MPI, parallel HDF5, toml++, CLI11, {fmt}, GoogleTest and the
# FashionMNIST files from the folder scripts/gpu-deps.sh prepares on a Debian 12 machine
# (gpu-deps/ inside or beside the checkout, or GPU_DEPS=DIR), else from the system.
# PYTHON names the interpreter whose torch to build against (default: python3).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-gpu}"
python="${PYTHON:-python3}"
summary_file="${SUMMARY:-$build/gpu-check.md}"
start=$(date +%s)
budget="${GPU_CHECK_SECONDS:-600}"  # seconds for everything (a 2-core machine needs about 1500 to build)
left() { echo $((budget - ($(date +%s) - start))); }
summary=()
note() { summary+=("$1"); echo "gpu-check: $1"; }

# ---- the dependencies: the unpacked Debian packages, or the system --------------------------
deps="${GPU_DEPS:-}"
for candidate in "$root/gpu-deps" "$root/../gpu-deps"; do
  [ -z "$deps" ] && { [ -d "$candidate/root/usr" ] || [ -d "$candidate/debs" ]; } && deps="$candidate"
done
if [ -n "$deps" ] && [ ! -d "$deps/root/usr" ]; then
  bash "$root/scripts/gpu-deps.sh" --unpack "$deps" || { echo "gpu-check: could not unpack $deps/debs" >&2; exit 1; }
fi
cmake_prefix=()
fashion=/usr/share/datasets/fashion-mnist
if [ -n "$deps" ]; then
  usr="$(cd "$deps/root/usr" && pwd)"
  lib="$usr/lib/x86_64-linux-gnu"
  export PATH="$usr/bin:$PATH"
  export LD_LIBRARY_PATH="$lib:$lib/openmpi/lib:$lib/hdf5/openmpi${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export OPAL_PREFIX="$usr"  # Open MPI relocated: its wrappers, help files and plug-ins under $usr
  cmake_prefix=("$usr" "$lib/cmake")
  hdf5_args=(-DHDF5_C_COMPILER_EXECUTABLE=HDF5_C_COMPILER_EXECUTABLE-NOTFOUND
             -DHDF5_C_INCLUDE_DIR="$usr/include/hdf5/openmpi" -DHDF5_hdf5_LIBRARY_RELEASE="$lib/hdf5/openmpi/libhdf5.so")
  fashion="$usr/share/datasets/fashion-mnist"
  note "dependencies: $deps (unpacked Debian packages)"
else
  hdf5_args=()
  note "dependencies: the system's (no gpu-deps folder found)"
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

# ---- the machine ----------------------------------------------------------------------------
if command -v nvidia-smi >/dev/null; then
  note "nvidia-smi: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -4 | paste -sd';')"
else
  note "nvidia-smi: not found"
fi
torch_prefix="$("$python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)' 2>/dev/null)"
if [ -z "$torch_prefix" ]; then
  note "FAILED: $python has no torch (set PYTHON to the interpreter that has PyTorch)"
  printf '%s\n' "${summary[@]}" >&2
  exit 1
fi
note "PyTorch: $("$python" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version(), "GPUs", torch.cuda.device_count())' 2>/dev/null)"

# ---- 1. build ----------------------------------------------------------------------------------
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH="/usr/local/cuda/bin:$PATH"; fi
prefix_list="$torch_prefix"
for p in "${cmake_prefix[@]}"; do prefix_list="$prefix_list;$p"; done
jobs=$(nproc)
t0=$(date +%s)
mkdir -p "$build"
# Only what the check runs (fedsaf and the gpu tests): the full test suite is for CPU machines.
if ! timeout "$(left)" cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
       -DCMAKE_PREFIX_PATH="$prefix_list" "${hdf5_args[@]}" >"$build/gpu-check-configure.log" 2>&1 ||
   ! timeout "$(left)" ninja -C "$build" -j "$jobs" fedsaf test_gpu >"$build/gpu-check-build.log" 2>&1; then
  tail -30 "$build/gpu-check-configure.log" "$build/gpu-check-build.log" 2>/dev/null
  note "FAILED: the build (logs: $build/gpu-check-{configure,build}.log)"
  printf '%s\n' "${summary[@]}" | tee "$summary_file" 2>/dev/null
  exit 1
fi
note "build: $(($(date +%s) - t0)) s with $jobs jobs; $("$build/fedsaf" --version | sed -n 2,3p | paste -sd';')"

# ---- 2. the gpu tests --------------------------------------------------------------------------
t0=$(date +%s)
ctest --test-dir "$build" -L gpu --output-on-failure --timeout "$(( $(left) / 2 ))" >"$build/gpu-check-ctest.log" 2>&1
tests_status=$?
skipped=$(grep -c '\*\*\*Skipped' "$build/gpu-check-ctest.log")
note "gpu tests: $(grep -E '% tests passed' "$build/gpu-check-ctest.log"), $skipped of them skipped (exit 77: no GPU) ($(($(date +%s) - t0)) s)"
[ $tests_status -ne 0 ] && tail -60 "$build/gpu-check-ctest.log"

# ---- 3. the GPU benchmark ----------------------------------------------------------------------
# shellcheck source=../bench/round_time.sh
source "$root/bench/round_time.sh"
# seconds_per_round within what is left of the budget.
timed_seconds_per_round() {
  timeout "$(left)" bash -c "$(declare -f seconds_per_round); seconds_per_round \"\$@\"" _ "$@"
}
if "$python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  out="$(mktemp -d)"
  fm=("$root/configs/fashionmnist-dir0.1.toml" --set run.rounds=4 --set run.device=cuda --set "data.path=\"$fashion\"")
  for ranks in 1 2; do
    s=$(timed_seconds_per_round "$build/fedsaf" "$ranks" "${fm[@]}" --out "$out/fm$ranks" --fresh --force)
    note "FashionMNIST Dir(0.1), 20 clients, CNN, FedAvg, GPU, $ranks rank(s): ${s:-failed} s/round"
  done
  synth=("$root/configs/default.toml" --set run.clients=1000 --set run.rounds=4 --set model.name=mlp --set run.device=cuda
         --set run.eval_every=100 --set run.checkpoint_every=0)
  for algorithm in fedavg fedsaf; do
    s=$(timed_seconds_per_round "$build/fedsaf" 2 "${synth[@]}" --set run.algorithm=$algorithm --out "$out/s-$algorithm" \
          --fresh --force)
    if [ -n "$s" ]; then
      note "1000 synthetic clients, mlp, $algorithm, GPU, 2 ranks: $s s/round = $(awk -v s="$s" 'BEGIN { printf "%.0f", 1000 / s }') client updates/s"
    else
      note "1000 synthetic clients, mlp, $algorithm, GPU, 2 ranks: failed"
    fi
  done
  rm -rf "$out"
else
  note "GPU benchmark: skipped (no GPU visible to PyTorch)"
fi

note "total: $(($(date +%s) - start)) s"
mkdir -p "$(dirname "$summary_file")"
{
  echo "# fedsaf GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(hostname)"
  printf -- '- %s\n' "${summary[@]}"
} >"$summary_file"
echo
cat "$summary_file"
exit $tests_status
