#pragma once
// Round observers: what happens around the rounds without being a phase of one (the run-file
// recorder, the round line, the divergence guard, checkpoints, re-placement), in the spirit of
// pfl-research's training-process callbacks. The loop (engine.cpp) calls every observer's hook
// in registration order, on every rank, after each round's phases:
//   after_round(round)       the round's metrics are final: record, report, judge, checkpoint
//   before_next_round(round) its state is saved: stop with an error, or re-place clients
// and after_run(result) once the last round is done (not after a stop signal).
// Hooks may communicate: every rank calls them in the same order.
#include <cstdint>

#include "core/config.hpp"
#include "sim/console.hpp"
#include "sim/engine.hpp"
#include "sim/round.hpp"
#include "sim/run_log.hpp"

namespace fedsaf {

class Communicator;
struct Federation;

class RoundObserver {
 public:
  virtual ~RoundObserver() = default;
  virtual void after_round(Round& /*round*/) {}
  virtual void before_next_round(Round& /*round*/) {}
  virtual void after_run(RunResult& /*result*/) {}
};

// What the loop and its observers share; each piece has one owner, named beside it.
struct RunServices {
  const Config& config;
  const RunOptions& options;
  Communicator& comm;
  int rank = 0;
  Federation& fed;       // set-up; replace() is re-placement's alone
  RunResult& result;     // the loop's; each observer fills only its own fields
  Console& console;      // rank 0's lines
  RankLog& log;          // this rank's log file
  const char*& phase;    // what this rank is doing, for a fatal error's message (PhaseTimer sets it)
  Clock::time_point run_start;  // of this segment
  double earlier_seconds = 0;   // wall time of the segments before a resume
  int64_t first_round = 0;      // the round this segment starts with

  // On a terminal, rank 0's progress inside `round`.
  void progress(const Round& round, const char* what, int64_t done = 0, int64_t total = 0) const {
    console.progress(round.index + 1, config.run.rounds, what, done, total, round.start);
  }
};

}  // namespace fedsaf
