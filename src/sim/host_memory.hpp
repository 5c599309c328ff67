#pragma once
// This process's and this node's memory, from /proc (0 where it cannot be read).
#include <cstdint>

namespace fedsaf {

// MemAvailable of /proc/meminfo in bytes: the automatic host budget's base.
int64_t memory_available_bytes();
// VmRSS of /proc/self/status in bytes: what this process holds resident now.
int64_t resident_bytes();

}  // namespace fedsaf
