#pragma once
// Round observer: rank 0's one line per round ("round 7/20  acc 0.6201 (clients 0.2420 ±
// 0.3568)  loss 1.1384  auc 0.9235  train-loss 0.6630  0.03 s/round  ETA 0s"), with the
// algorithm's note and the diverged clients when there are any.
#include "sim/round_observer.hpp"

namespace fedsaf {

class RoundLine : public RoundObserver {
 public:
  explicit RoundLine(RunServices& run) : run_(run) {}
  void after_round(Round& round) override;

 private:
  RunServices& run_;
};

}  // namespace fedsaf
