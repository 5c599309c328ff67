#pragma once
// Scratch space for client state beyond memory (run.state_dir): one file per rank, unlinked as
// soon as it is created, so nothing outlives the process, whatever ends it. It grows in segments
// (space reserved with posix_fallocate, so a full disk is an error here, not a SIGBUS later),
// each mapped once with MAP_SHARED: the kernel writes dirty pages back on its own and may evict
// clean ones under memory pressure, which is what lets a rank hold more state than memory.
#include <cstdint>
#include <string>
#include <vector>

namespace fedsaf {

class DiskArena {
 public:
  // Creates the scratch file in `dir` (an existing folder); throws IoError naming it.
  explicit DiskArena(const std::string& dir);
  ~DiskArena();
  DiskArena(const DiskArena&) = delete;
  DiskArena& operator=(const DiskArena&) = delete;

  // `bytes` of zero-filled space, 64-byte aligned, valid as long as the arena; throws IoError
  // naming the folder when the disk cannot hold it.
  void* allocate(int64_t bytes);
  int64_t bytes() const { return bytes_; }  // allocated so far
  bool owns(const void* p) const;

  // Hints for [p, p + bytes) inside the arena: read it in the background (the next cohort's
  // state), or drop it from this process's resident pages (written back, not lost).
  static void will_need(const void* p, int64_t bytes);
  static void dont_need(const void* p, int64_t bytes);

 private:
  struct Segment {
    char* base = nullptr;
    int64_t size = 0;
    int64_t used = 0;
  };
  std::string dir_;
  int fd_ = -1;
  int64_t file_bytes_ = 0;  // the file's size: every segment, back to back
  int64_t bytes_ = 0;
  std::vector<Segment> segments_;
};

}  // namespace fedsaf
