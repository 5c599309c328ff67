#!/usr/bin/env bash
# Prepares, on a Debian 12 machine with apt, what scripts/gpu-check.sh needs on a GPU machine that
# has its own PyTorch but no package registry: the Debian packages of fedsaf's other build and run
# dependencies (Open MPI, parallel HDF5, toml++, CLI11, {fmt}, zlib, GoogleTest, FashionMNIST),
# downloaded with `apt-get download` and unpacked with `dpkg -x` into one folder:
#
#   bash scripts/gpu-deps.sh [DIR]            # download into DIR/debs (46 MB) and unpack into DIR/root
#   bash scripts/gpu-deps.sh --unpack [DIR]   # only unpack DIR/debs (needs dpkg-deb, or ar and tar)
#
# DIR defaults to gpu-deps in the checkout (ignored by git). Take DIR/debs to the GPU machine,
# inside or beside the checkout: scripts/gpu-check.sh unpacks it there (97 MB) and finds it.
# Packages the GPU machine's own system already has (libc, libstdc++, OpenSSL, ...) are left out.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
unpack_only=false
if [ "${1:-}" = --unpack ]; then unpack_only=true; shift; fi
out="${1:-$root/gpu-deps}"

# Unpacks every DIR/debs/*.deb into DIR/root (dpkg -x where there is dpkg, else ar + tar), with
# absolute symlinks inside the packages (libfoo.so -> /usr/lib/...) made relative to the tree, so
# that they do not point at the machine's own system.
unpack() {
  mkdir -p "$out/root"
  for deb in "$out"/debs/*.deb; do
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$deb" "$out/root"
    else
      member="$(ar t "$deb" | grep '^data\.tar')"
      ar p "$deb" "$member" | tar -x -a -f - -C "$out/root" 2>/dev/null ||
        ar p "$deb" "$member" | tar -x --xz -f - -C "$out/root"
    fi
  done
  find "$out/root" -type l -lname '/*' | while read -r link; do
    target="$(readlink "$link")"
    ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$out/root$target")" "$link"
  done
  # Debian names Open MPI's and HDF5's programs through update-alternatives (mpirun -> mpirun.openmpi),
  # which only an installation runs: make those names here.
  for program in "$out"/root/usr/bin/*.openmpi; do
    [ -e "${program%.openmpi}" ] || ln -s "$(basename "$program")" "${program%.openmpi}"
  done
}
if $unpack_only; then
  unpack
  echo "gpu-deps: unpacked $out/debs into $out/root"
  exit 0
fi

# What the build and the runs need; their library dependencies are added from apt's resolver,
# except what any Linux system has (C/C++ runtimes, compilers, TLS, Kerberos, X11, ...): those
# stay the GPU machine's own, and the end of this script lists the ones it must provide.
DIRECT=(libopenmpi-dev openmpi-bin openmpi-common libhdf5-openmpi-dev libtomlplusplus-dev libcli11-dev libfmt-dev
        zlib1g-dev libgtest-dev googletest dataset-fashion-mnist)
BASE='^(libc6|libc-|libstdc|libgcc|gcc|cpp|g\+\+|gfortran|flang|libllvm|libclang|libflang|libmlir|libz3|libperl|perl|'
BASE+='python|libpython|libasan|libtsan|liblsan|libubsan|libitm|libatomic|libquadmath|libgomp|libgfortran|libcc1|libisl|'
BASE+='libmpc|libmpfr|libgmp|libbinutils|binutils|libctf|libgprofng|libjs-|libx11|libxcb|libxau|libxdmcp|libxext|'
BASE+='libselinux|libsemanage|libsepol|libpam|libaudit|libudev|libuuid|libtinfo|libreadline|readline|libicu|libssl|'
BASE+='libzstd|liblzma|libbz2|libcrypt|libffi|libgnutls|libnettle|libhogweed|libp11|libtasn1|libgssapi|libkrb5|'
BASE+='libk5crypto|libcom-err|libkeyutils|libmd0|libbsd|libsqlite|libdb5|libgdbm|libpcre|libxml2|libedit|libslang|'
BASE+='libnewt|libtextwrap|libdebian|libcap|libnspr|libnss|nss-|libtirpc|libnsl|libjansson|libfido|libcbor|'
BASE+='libjpeg|libcurl.*-dev|libssl-dev|libevent-dev|libnuma-dev|libnl-.*-dev|libibverbs-dev|libltdl-dev|'
BASE+='libpmix-dev|libhwloc-dev|libaec-dev|libtirpc-dev|libnsl-dev|libcrypt-dev|zlib1g$|'
BASE+='adduser|autoconf|automake|autotools|cdebconf|debconf|debianutils|dpkg|install-info|m4|passwd|tar|'
BASE+='openssh|rpcsvc|linux-libc|ocl-icd|libhdf5-openmpi-(cpp|fortran|hl-cpp|hl-fortran)|libhdf5-openmpi-hl)'
mapfile -t PACKAGES < <(
  { printf '%s\n' "${DIRECT[@]}"
    apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
      --no-enhances "${DIRECT[@]}" | grep -v '^ ' | grep -v '^<'
  } | sort -u | grep -Ev "$BASE" || true)
PACKAGES+=(zlib1g-dev libgtest-dev)  # -dev packages the build needs that the filter above drops
mapfile -t PACKAGES < <(printf '%s\n' "${PACKAGES[@]}" | sort -u)

mkdir -p "$out/debs"
echo "gpu-deps: downloading ${#PACKAGES[@]} packages into $out/debs"
(cd "$out/debs" && apt-get download "${PACKAGES[@]}" 2>&1 | grep -v 'unsandboxed' >&2 || true)
unpack
# What the unpacked libraries and programs need that is not in the folder: the GPU machine's own.
needed="$(find "$out/root" -type f \( -name '*.so*' -o -path '*/bin/*' \) -exec readelf -d {} + 2>/dev/null |
  sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | sort -u || true)"  # readelf fails on scripts: fine
external=()
for lib in $needed; do
  [ -n "$(find "$out/root" -name "$lib" -print -quit)" ] || external+=("$lib")
done
echo "gpu-deps: the GPU machine must provide: ${external[*]}"
echo "gpu-deps: unpacked into $out/root ($(du -sh "$out/root" | cut -f1)); take $out/debs to the GPU machine"
