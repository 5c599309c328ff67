#pragma once
// The one clock every phase timer reads: monotonic, so a clock step during a run cannot give a
// negative or inflated phase.
#include <chrono>

namespace fedsaf {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace fedsaf
