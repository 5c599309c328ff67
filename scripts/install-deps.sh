#!/usr/bin/env bash
# Installs every Debian package fedsaf uses (build, tests, Slurm, analysis, data, BLAS).
# Idempotent: when everything is present it only checks (no apt-get update) and exits in < 1 s.
set -euo pipefail

PACKAGES=(
  # build
  cmake ninja-build pkg-config g++ git
  libtorch-dev libopenblas0-openmp
  libopenmpi-dev openmpi-bin
  libhdf5-openmpi-dev hdf5-tools
  libtomlplusplus-dev libcli11-dev libspdlog-dev libfmt-dev zlib1g-dev libstb-dev
  # tests and benchmarks
  libgtest-dev googletest libbenchmark-dev
  # Slurm (real single-node cluster in the tests)
  slurm-wlm munge
  # analysis (Debian's /usr/bin/python3)
  python3 python3-h5py python3-numpy python3-pandas python3-matplotlib python3-pytest
  # real data
  dataset-fashion-mnist
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run this script as root (or install them with apt-get)" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -o DPkg::Lock::Timeout=600
apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}"
echo "install-deps: done"
