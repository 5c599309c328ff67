#pragma once
// Round observer: what diverging clients do to a run. A round in which every cohort client
// diverged, or run.max_diverged_rounds rounds in a row with at least run.max_diverged_share of
// the cohort diverging, stop the run with an error naming the clients and the likely cause,
// after the round's checkpoint. A finite but exploding training loss is warned about once.
#include <string>

#include "sim/round_observer.hpp"

namespace fedsaf {

class DivergenceGuard : public RoundObserver {
 public:
  explicit DivergenceGuard(RunServices& run) : run_(run) {}
  // Sets round.stop_diverging (every rank alike: the counts are all-reduced); registered before
  // the checkpointer, which then writes the round's state.
  void after_round(Round& round) override;
  // Collective: throws AgreedError when round.stop_diverging.
  void before_next_round(Round& round) override;

 private:
  void warn_if_exploding(const Round& round);
  std::string message(const Round& round);  // collective
  RunServices& run_;
  int64_t streak_ = 0;            // rounds in a row with at least run.max_diverged_share diverging
  bool warned_exploding_ = false;  // the exploding-loss warning is said once per run
};

}  // namespace fedsaf
