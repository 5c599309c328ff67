// fedsaf: no-torch
#include "sim/progress_line.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>

namespace fedsaf {

namespace {
constexpr const char* kEraseLine = "\r\x1b[K";  // carriage return, then erase to the end of the line

bool is_terminal_path(const std::string& path) { return path.rfind("/dev/pts/", 0) == 0 || path.rfind("/dev/tty", 0) == 0; }

// Whether what is written to `fd` reaches a person's terminal. Open MPI's mpirun gives every local
// rank a pseudo-terminal as stdout whatever its own stdout is (a file, a pipe), so under it the
// answer is mpirun's (the rank's parent process) own descriptor.
bool reaches_a_terminal(int fd) {
  if (::isatty(fd) != 1) return false;
  if (std::getenv("OMPI_COMM_WORLD_SIZE") == nullptr) return true;
  char target[256] = {};
  const std::string link = fmt::format("/proc/{}/fd/{}", ::getppid(), fd);
  const ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
  return n > 0 && is_terminal_path(std::string(target, static_cast<size_t>(n)));
}
}  // namespace

ProgressLine::ProgressLine(std::FILE* out, bool active, std::chrono::milliseconds interval)
    : out_(out), active_(active), interval_(interval) {}

ProgressLine::ProgressLine(bool enabled, std::FILE* out, std::chrono::milliseconds interval)
    : ProgressLine(out, enabled && out != nullptr && reaches_a_terminal(::fileno(out)), interval) {}

ProgressLine ProgressLine::forced(std::FILE* out, std::chrono::milliseconds interval) {
  return ProgressLine(out, true, interval);
}

void ProgressLine::update(int64_t round_number, int64_t rounds, const char* phase, int64_t done, int64_t total,
                          Clock::time_point round_start) {
  if (!active_) return;
  const Clock::time_point now = Clock::now();
  if (phase == last_phase_ && now - last_shown_ < interval_) return;
  last_phase_ = phase;
  last_shown_ = now;
  const double elapsed = std::chrono::duration<double>(now - round_start).count();
  const std::string count = total > 0 ? fmt::format(" {}/{} clients", done, total) : "";
  fmt::print(out_, "{}round {}/{}  {}{}  {:.1f} s", kEraseLine, round_number, rounds, phase, count, elapsed);
  std::fflush(out_);
  showing_ = true;
}

void ProgressLine::clear() {
  if (!showing_) return;
  fmt::print(out_, "{}", kEraseLine);
  std::fflush(out_);
  showing_ = false;
  last_phase_ = nullptr;
}

}  // namespace fedsaf
