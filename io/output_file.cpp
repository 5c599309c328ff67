// fedsaf: no-torch
#include "io/output_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/errors.hpp"

namespace fedsaf {

namespace fs = std::filesystem;

namespace {

// Why `path`, which exists, can never be replaced by a file; "" when it can.
std::string not_replaceable(const fs::file_status& status) {
  if (fs::is_directory(status)) return "is a folder, not a file name";
  if (!fs::is_regular_file(status)) return "is not a regular file (a FIFO, socket or device)";
  return "";
}

}  // namespace

void check_output_path(const std::string& out, bool force, const std::string& what) {
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(out, ec);
  if (ec || !fs::exists(status)) return;
  const fs::file_status target = fs::status(out, ec);  // a link: judged by what it points to
  if (const std::string why = not_replaceable(ec ? status : target); !why.empty())
    throw IoError(fmt::format("{}: {}; choose another {}", out, why, what));
  if (!force) throw IoError(fmt::format("{}: already exists (pass --force to overwrite it, or choose another {})", out, what));
}

std::string claim_temporary(const std::string& out, const std::string& suffix, bool force) {
  const std::string tmp = out + suffix;
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(tmp, ec);
  if (!ec && fs::exists(status)) {
    // What is in the way is said first: a folder is no leftover of this command, and --force would not help.
    if (fs::is_directory(status) || !(fs::is_regular_file(status) || fs::is_symlink(status)))
      throw IoError(fmt::format("{}: {}; it is in the way of the temporary file, remove it", tmp, not_replaceable(status)));
    if (!force) {
      throw IoError(fmt::format("{}: exists, left by another run of this command (still running, or killed): remove it, "
                                "or pass --force to replace it", tmp));
    }
    fs::remove(tmp, ec);
    if (ec) throw IoError(fmt::format("{}: cannot remove: {}", tmp, ec.message()));
  }
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError(fmt::format("{}: cannot create: {}", tmp, std::strerror(errno)));
  ::close(fd);
  return tmp;
}

}  // namespace fedsaf
