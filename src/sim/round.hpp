#pragma once
// What one round carries from phase to phase and to the round observers, and the timer that
// accounts each phase's seconds.
#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "core/diagnostics.hpp"
#include "core/stopwatch.hpp"
#include "io/run_records.hpp"

namespace fedsaf {

struct Round {
  int64_t index = 0;            // t, 0-based
  std::vector<int64_t> cohort;  // the clients that train in it (every rank's)
  bool evaluates = false;       // every client is evaluated after the server step
  bool last = false;            // t = run.rounds − 1
  RoundRecord record;           // its run-file row; timing: this rank's
  std::optional<EvalRecord> eval;  // when it evaluates
  // [Σ n·loss, Σ n, diverged] over this rank's cohort clients (loss of the finite ones only; the
  // diverged count is written from `diverged` right before the all-reduce)
  torch::Tensor loss_sums = torch::zeros({3}, torch::kFloat64);
  std::vector<int64_t> diverged;  // this rank's cohort clients whose training diverged
  Diagnostics diagnostics;        // the algorithm's, this rank's values until combined
  bool stop_diverging = false;    // too many clients diverged: checkpoint, then stop with an error
  bool stop_after = false;        // a stop signal ends the run after this round (its checkpoint written)
  Clock::time_point start = Clock::now();
};

// Adds the seconds of its scope to `seconds`, and names the phase this rank is in (for the message
// of an error on this rank alone).
class PhaseTimer {
 public:
  PhaseTimer(const char*& current, const char* phase, double& seconds)
      : seconds_(seconds), start_(Clock::now()) {
    current = phase;
  }
  PhaseTimer(const PhaseTimer&) = delete;
  PhaseTimer& operator=(const PhaseTimer&) = delete;
  ~PhaseTimer() { seconds_ += seconds_since(start_); }

 private:
  double& seconds_;
  Clock::time_point start_;
};

}  // namespace fedsaf
