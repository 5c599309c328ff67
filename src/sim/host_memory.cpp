#include "sim/host_memory.hpp"

#include <fstream>
#include <string>

namespace fedsaf {

namespace {
// The value in kB of the line starting with `key` (e.g. "MemAvailable:   12345678 kB"), in bytes.
int64_t kilobytes_field(const char* path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stoll(line.substr(key.size())) * 1024;
  return 0;
}
}  // namespace

int64_t memory_available_bytes() { return kilobytes_field("/proc/meminfo", "MemAvailable:"); }
int64_t resident_bytes() { return kilobytes_field("/proc/self/status", "VmRSS:"); }

}  // namespace fedsaf
