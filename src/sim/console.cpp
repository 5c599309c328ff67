// fedsaf: no-torch
#include "sim/console.hpp"

#include <fmt/format.h>

#include <cstdio>

namespace fedsaf {

Console::Console(int rank, bool quiet) : prints_(rank == 0 && !quiet), progress_(prints_) {}

void Console::say(const std::string& line) {
  progress_.clear();
  if (prints_) fmt::print("{}\n", line), std::fflush(stdout);
}

void Console::progress(int64_t round_number, int64_t rounds, const char* phase, int64_t done, int64_t total,
                       std::chrono::steady_clock::time_point round_start) {
  progress_.update(round_number, rounds, phase, done, total, round_start);
}

}  // namespace fedsaf
