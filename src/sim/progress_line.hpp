#pragma once
// Progress inside a round on a terminal: one line, rewritten in place ("round 3/20  training
// 12/40 clients  5.2 s"), so that rounds taking tens of seconds do not look stuck. Logs and pipes
// get nothing from it: they keep the one line per round the engine prints.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace fedsaf {

class ProgressLine {
 public:
  using Clock = std::chrono::steady_clock;
  // Shows anything only when `enabled` and `out` reaches a terminal (under Open MPI's mpirun:
  // when mpirun's own output does); rewrites at most once per `interval` (the first update of a
  // phase always shows).
  ProgressLine(bool enabled, std::FILE* out = stdout,
               std::chrono::milliseconds interval = std::chrono::milliseconds(250));
  // The same, with the terminal test decided by the caller (tests).
  static ProgressLine forced(std::FILE* out, std::chrono::milliseconds interval);

  // `done` of `total` units of `phase` finished (total 0: no count) in round `round_number` of
  // `rounds`, which started at `round_start`.
  void update(int64_t round_number, int64_t rounds, const char* phase, int64_t done, int64_t total,
              Clock::time_point round_start);
  // Erases the line, if one is showing: call before printing any other line.
  void clear();
  bool active() const { return active_; }

 private:
  ProgressLine(std::FILE* out, bool active, std::chrono::milliseconds interval);
  std::FILE* out_;
  bool active_;
  std::chrono::milliseconds interval_;
  bool showing_ = false;
  const char* last_phase_ = nullptr;
  Clock::time_point last_shown_{};
};

}  // namespace fedsaf
