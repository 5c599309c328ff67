#pragma once
// Rank 0's console during a run: the one line per event people read (`say`), and on a terminal
// the progress line inside a round (progress_line.hpp), which every other line first erases.
#include <chrono>
#include <cstdint>
#include <string>

#include "sim/progress_line.hpp"

namespace fedsaf {

class Console {
 public:
  // rank: this process's rank (only rank 0 prints); quiet: print nothing (--quiet).
  Console(int rank, bool quiet);
  // One line on rank 0's stdout, unless quiet.
  void say(const std::string& line);
  // On a terminal, rank 0's progress inside round `round_number` of `rounds` (which started at
  // `round_start`): `done` of `total` units of `phase` (this rank's clients only; total 0: no count).
  void progress(int64_t round_number, int64_t rounds, const char* phase, int64_t done, int64_t total,
                std::chrono::steady_clock::time_point round_start);
  // Erases the progress line, if one shows: before printing anything else (warnings on stderr).
  void clear() { progress_.clear(); }

 private:
  bool prints_;
  ProgressLine progress_;
};

}  // namespace fedsaf
