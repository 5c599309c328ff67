#pragma once
// Round observer: checkpoints (checkpoint.hpp) every run.checkpoint_every rounds, after the last
// round, after a round that stops the run for divergence, and when any rank got a stop signal
// (one collective flag, so every rank stops after the same round; then round.stop_after). Writes
// only when the run has a checkpoint folder and a run file.
#include "sim/round_observer.hpp"

namespace fedsaf {

class Checkpointer : public RoundObserver {
 public:
  explicit Checkpointer(RunServices& run) : run_(run) {}
  // Collective. Registered after the divergence guard, whose verdict makes a checkpoint due.
  void after_round(Round& round) override;

 private:
  void write(const Round& round);
  RunServices& run_;
};

}  // namespace fedsaf
