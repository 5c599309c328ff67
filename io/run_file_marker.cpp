// fedsaf: no-torch
#include "io/run_file_marker.hpp"

#include <sys/stat.h>

#include <fmt/format.h>

#include <fstream>
#include <sstream>
#include <string>

namespace fedsaf {

namespace {

constexpr const char* kIdentityKey = "file ";  // the line "file DEVICE INODE"

// "DEVICE INODE" of path, "" when it cannot be read.
std::string identity(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return "";
  return fmt::format("{} {}", static_cast<unsigned long long>(st.st_dev), static_cast<unsigned long long>(st.st_ino));
}

}  // namespace

std::filesystem::path unfinished_marker(const std::filesystem::path& run_file) {
  return run_file.parent_path() / ("." + run_file.filename().string() + ".unfinished");
}

void mark_unfinished(const std::filesystem::path& run_file) {
  const std::string id = identity(run_file);
  if (id.empty()) return;
  const std::filesystem::path marker = unfinished_marker(run_file), tmp = marker.string() + ".tmp";
  {
    std::ofstream out(tmp);
    out << "fedsaf is writing " << run_file.filename().string()
        << "; this file is removed when the run completes\n" << kIdentityKey << id << "\n";
    if (!out.flush()) return;
  }
  std::error_code ignored;
  std::filesystem::rename(tmp, marker, ignored);  // whole or not at all
  if (ignored) std::filesystem::remove(tmp, ignored);
}

bool marked_unfinished(const std::filesystem::path& run_file) {
  std::ifstream in(unfinished_marker(run_file));
  const std::string id = identity(run_file);
  std::string line;
  while (!id.empty() && std::getline(in, line))
    if (line.rfind(kIdentityKey, 0) == 0) return line.substr(std::string(kIdentityKey).size()) == id;
  return false;
}

void clear_unfinished(const std::filesystem::path& run_file) {
  std::error_code ignored;
  std::filesystem::remove(unfinished_marker(run_file), ignored);
}

}  // namespace fedsaf
