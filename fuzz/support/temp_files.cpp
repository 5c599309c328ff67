#include "support/temp_files.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace fedsaf::fuzz {

namespace {

namespace fs = std::filesystem;

std::string& dir_path() {
  static std::string path;
  return path;
}

void remove_dir() {
  std::error_code ec;
  if (!dir_path().empty()) fs::remove_all(dir_path(), ec);
}

}  // namespace

std::string fresh_temp_dir() {
  std::string& dir = dir_path();
  if (dir.empty()) {
    std::string pattern = (fs::temp_directory_path() / "fedsaf-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("fedsaf fuzz: mkdtemp");
      std::abort();
    }
    dir = pattern;
    std::atexit(remove_dir);
    return dir;
  }
  for (const auto& entry : fs::directory_iterator(dir)) fs::remove_all(entry.path());
  return dir;
}

std::string write_file(const std::string& dir, const std::string& name, std::string_view bytes) {
  const std::string path = (fs::path(dir) / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.flush()) {
    std::fprintf(stderr, "fedsaf fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

}  // namespace fedsaf::fuzz
