// The fuzzing process claims a machine of 256 MiB of physical memory: fedsaf sizes some checks by
// the memory it runs on (src/data/hdf5_reader.cpp refuses data that cannot fit), and on the real
// machine those would let a tiny file declaring gigabytes through to an allocation that is
// legitimate there but too slow and too big to fuzz. With this answer any allocation past
// -malloc_limit_mb is one fedsaf's own checks should have refused: a finding.
//
// sysconf() of this executable takes precedence over libc's for every caller in the process;
// every other question goes to libc's.
#include <dlfcn.h>
#include <unistd.h>

namespace {

constexpr long kPhysicalBytes = 256L << 20;

}  // namespace

extern "C" long sysconf(int name) {
  using Sysconf = long (*)(int);
  static const auto libc_sysconf = reinterpret_cast<Sysconf>(::dlsym(RTLD_NEXT, "sysconf"));
  if (name == _SC_PHYS_PAGES) return kPhysicalBytes / libc_sysconf(_SC_PAGE_SIZE);
  return libc_sysconf(name);
}
