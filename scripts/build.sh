#!/usr/bin/env bash
# Configures (once) and builds fedsaf in Release with ninja into build/ (override: BUILD_DIR).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
# A CUDA LibTorch's CMake config needs the CUDA toolkit's nvcc (Debian's CUDA packages and
# NVIDIA's installer put it in /usr/local/cuda/bin, often not on PATH).
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
if [ ! -f "$build/build.ninja" ]; then
  # Which LibTorch (cmake/LibTorch.cmake): Torch_DIR when set (a cluster module, conda, another
  # PyTorch), else the project's .venv (scripts/install-deps.sh), else the system's (Debian 1.13).
  torch_args=()
  if [ -n "${Torch_DIR:-}" ]; then
    torch_args=(-DTorch_DIR="$Torch_DIR")
  elif [ "${FEDSAF_TORCH:-pip}" = pip ] && [ -x "$root/.venv/bin/python" ]; then
    torch_args=(-DCMAKE_PREFIX_PATH="$("$root/.venv/bin/python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)' 2>/dev/null)")
  fi
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${torch_args[@]}"
fi
# Each torch translation unit needs up to 1.5 GB of RAM: cap parallel jobs by memory and cores.
mem_gb=$(awk '/MemAvailable/ {print int($2 / 1048576)}' /proc/meminfo)
jobs=$(( $(nproc) < mem_gb / 2 ? $(nproc) : mem_gb / 2 ))
[ "$jobs" -ge 1 ] || jobs=1
ninja -C "$build" -j "$jobs" "$@"
