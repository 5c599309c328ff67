#!/usr/bin/env bash
# Installs what fedsaf builds and runs with: the Debian packages below (build, tests, Slurm,
# analysis, data) and LibTorch, as a pinned PyTorch wheel in the project's virtual environment
# .venv (its CUDA build; it also runs on CPU). Idempotent: when everything is present it only
# checks (no apt-get update, no pip) and exits in about a second.
#
#   FEDSAF_TORCH=pip     (default) LibTorch from the pinned wheel in .venv
#   FEDSAF_TORCH=debian  also Debian's libtorch-dev 1.13 (CPU only) and OpenBLAS, for a build
#                        against it (BUILD_DIR=build-1.13 FEDSAF_TORCH=debian scripts/build.sh)
#   FEDSAF_TORCH=none    no LibTorch: you name your own with Torch_DIR (cluster module, conda)
#   FEDSAF_TORCH_VERSION the wheel's version (default below; the README says which are supported)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
torch_source="${FEDSAF_TORCH:-pip}"
torch_version="${FEDSAF_TORCH_VERSION:-2.15.0}"
case "$torch_source" in
  pip | debian | none) ;;
  *) echo "install-deps: FEDSAF_TORCH=$torch_source: expected pip, debian or none" >&2; exit 1 ;;
esac

PACKAGES=(
  # build
  cmake ninja-build pkg-config g++ git python3-venv
  libopenmpi-dev openmpi-bin
  libhdf5-openmpi-dev hdf5-tools
  libtomlplusplus-dev libcli11-dev libfmt-dev zlib1g-dev libstb-dev
  # tests and benchmarks; clang's libFuzzer for scripts/fuzz.sh
  libgtest-dev googletest libbenchmark-dev
  clang-14 libclang-rt-14-dev
  # Slurm (real single-node cluster in the tests)
  slurm-wlm munge
  # the cluster in a box of tests/cluster (ip, bridge; unshare and nsenter are in util-linux)
  iproute2 util-linux
  # analysis (Debian's /usr/bin/python3)
  python3 python3-h5py python3-numpy python3-pandas python3-matplotlib python3-pytest
  # real data
  dataset-fashion-mnist
)

# Debian's LibTorch 1.13 uses the system BLAS: OpenBLAS instead of the reference BLAS (3× faster).
[ "$torch_source" = debian ] && PACKAGES+=(libtorch-dev libopenblas0-openmp)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
elif [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run this script as root (or install them with apt-get)" >&2
  exit 1
else
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -o DPkg::Lock::Timeout=600
  apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}"
fi

# LibTorch: the PyTorch wheel carries a complete LibTorch (headers, libraries, CMake config); its
# CUDA libraries come as nvidia-* wheels (about 5 GB in all, about 2 minutes to install).
if [ "$torch_source" = pip ]; then
  venv="$root/.venv"
  if compgen -G "$venv/lib/python3*/site-packages/torch-$torch_version.dist-info" >/dev/null; then
    echo "install-deps: PyTorch $torch_version present in $venv"
  else
    echo "install-deps: installing PyTorch $torch_version (LibTorch with CUDA) into $venv"
    [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --no-input --progress-bar off --quiet "torch==$torch_version"
  fi
fi
echo "install-deps: done"
