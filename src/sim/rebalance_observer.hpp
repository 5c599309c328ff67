#pragma once
// Round observer for run.rebalance > 0: after each round every rank all-gathers its busy seconds
// and estimated work; when the Rebalancer (rebalance.hpp) finds that the ranks drifted apart,
// the clients move to the placement the measured speeds suggest, their state with them
// (move_client_state.hpp), and the move is said on the console and kept in the run file.
#include "sim/rebalance.hpp"
#include "sim/round_observer.hpp"

namespace fedsaf {

class RunFileRecorder;

class RebalanceObserver : public RoundObserver {
 public:
  // recorder: where re-placements are recorded; null when the run has no run file.
  RebalanceObserver(RunServices& run, RunFileRecorder* recorder);
  // Collective, unless the run stops after this round or it was the last.
  void before_next_round(Round& round) override;

 private:
  double work_done(const Round& round) const;  // estimated cost of what this rank did in the round
  void move_clients(const Round& round, const std::vector<int>& placement);
  RunServices& run_;
  RunFileRecorder* recorder_;
  Rebalancer rebalancer_;
};

}  // namespace fedsaf
