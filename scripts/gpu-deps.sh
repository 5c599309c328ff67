#!/usr/bin/env bash
# Prepares, on a Debian 12 machine with apt, what scripts/gpu-check.sh needs on a GPU machine that
# has its own PyTorch but no package registry: the Debian packages of fedsaf's other build and run
# dependencies (Open MPI, parallel HDF5, toml++, CLI11, {fmt}, zlib, GoogleTest, FashionMNIST),
# downloaded with `apt-get download` and unpacked with `dpkg -x` into one folder:
#
#   bash scripts/gpu-deps.sh [DIR]     # default DIR: gpu-deps (ignored by git), about 60 MB
#
# Copy DIR next to the checkout on the GPU machine (or keep it inside the checkout) and run
# `bash scripts/gpu-check.sh` there; it finds DIR/root/usr by itself. Packages the GPU machine's
# own system already has (libc, libstdc++, OpenSSL, ...) are left out.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/gpu-deps}"

# What the build and the runs need, and their runtime libraries beyond a base system.
PACKAGES=(
  libopenmpi-dev openmpi-bin openmpi-common libopenmpi3 libpmix2 libevent-core-2.1-7 libevent-pthreads-2.1-7
  libhwloc15 libhwloc-dev libfabric1 libucx0 libpsm2-2 libpsm-infinipath1 libibverbs1 librdmacm1 libnl-3-200
  libnl-route-3-200 libxnvctrl0 libltdl7 libnuma1 libefa1
  libhdf5-openmpi-dev libhdf5-openmpi-103-1 libsz2 libaec0 libcurl4 libnghttp2-14 librtmp1 libssh2-1 libpsl5
  libbrotli1 libldap-2.5-0 libsasl2-2 libsasl2-modules-db libidn2-0 libunistring2
  libtomlplusplus-dev libtomlplusplus3 libcli11-dev libfmt-dev libfmt9 zlib1g-dev
  libgtest-dev googletest
  dataset-fashion-mnist
)

mkdir -p "$out/debs" "$out/root"
cd "$out/debs"
echo "gpu-deps: downloading ${#PACKAGES[@]} packages into $out/debs"
apt-get download "${PACKAGES[@]}" >/dev/null
for deb in *.deb; do dpkg -x "$deb" "$out/root"; done
# Absolute symlinks inside the packages (e.g. libfoo.so -> /usr/lib/...) would point at the GPU
# machine's own system: make them relative to the unpacked tree.
find "$out/root" -type l -lname '/*' | while read -r link; do
  target="$(readlink "$link")"
  ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$out/root$target")" "$link"
done
echo "gpu-deps: unpacked into $out/root ($(du -sh "$out/root" | cut -f1)); copy $out beside the checkout on the GPU machine"
