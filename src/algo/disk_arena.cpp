#include "algo/disk_arena.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/errors.hpp"

namespace fedsaf {

namespace {
constexpr int64_t kSegmentBytes = int64_t{256} << 20;  // few mappings, little unused reservation
constexpr int64_t kAlign = 64;

int64_t page_bytes() { return sysconf(_SC_PAGESIZE); }
int64_t round_up(int64_t n, int64_t to) { return (n + to - 1) / to * to; }

// The pages spanning [p, p + bytes).
std::pair<void*, size_t> page_span(const void* p, int64_t bytes) {
  const auto page = static_cast<uintptr_t>(page_bytes());
  const auto begin = reinterpret_cast<uintptr_t>(p) / page * page;
  const auto end = round_up(static_cast<int64_t>(reinterpret_cast<uintptr_t>(p) + static_cast<uintptr_t>(bytes)),
                            static_cast<int64_t>(page));
  return {reinterpret_cast<void*>(begin), static_cast<size_t>(static_cast<uintptr_t>(end) - begin)};
}
}  // namespace

DiskArena::DiskArena(const std::string& dir) : dir_(dir) {
  std::string path = dir + "/.fedsaf-state-XXXXXX";
  fd_ = mkstemp(path.data());
  if (fd_ < 0)
    throw IoError(fmt::format("run.state_dir '{}': cannot create a scratch file for client state: {}", dir,
                              std::strerror(errno)));
  unlink(path.c_str());  // only this process's descriptor keeps it
}

DiskArena::~DiskArena() {
  for (const Segment& s : segments_) munmap(s.base, static_cast<size_t>(s.size));
  if (fd_ >= 0) close(fd_);
}

void* DiskArena::allocate(int64_t bytes) {
  const int64_t need = round_up(std::max<int64_t>(bytes, 1), kAlign);
  if (segments_.empty() || segments_.back().size - segments_.back().used < need) {
    const int64_t size = round_up(std::max(need, kSegmentBytes), page_bytes());
    const int error = posix_fallocate(fd_, file_bytes_, size);
    if (error != 0)
      throw IoError(fmt::format("run.state_dir '{}': cannot reserve {} MiB more for client state ({} MiB so far): {}",
                                dir_, size >> 20, file_bytes_ >> 20, std::strerror(error)));
    void* base = mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd_, file_bytes_);
    if (base == MAP_FAILED)
      throw IoError(fmt::format("run.state_dir '{}': cannot map {} MiB of client state: {}", dir_, size >> 20,
                                std::strerror(errno)));
    segments_.push_back({static_cast<char*>(base), size, 0});
    file_bytes_ += size;
  }
  Segment& s = segments_.back();
  void* out = s.base + s.used;
  s.used += need;
  bytes_ += bytes;
  return out;
}

bool DiskArena::owns(const void* p) const {
  const auto* c = static_cast<const char*>(p);
  return std::any_of(segments_.begin(), segments_.end(), [c](const Segment& s) { return c >= s.base && c < s.base + s.size; });
}

void DiskArena::will_need(const void* p, int64_t bytes) {
  const auto [begin, length] = page_span(p, bytes);
  madvise(begin, length, MADV_WILLNEED);  // a hint: failure changes nothing but speed
}

void DiskArena::dont_need(const void* p, int64_t bytes) {
  const auto [begin, length] = page_span(p, bytes);
  madvise(begin, length, MADV_DONTNEED);  // MAP_SHARED: the pages stay in the file
}

}  // namespace fedsaf
