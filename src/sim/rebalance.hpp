#pragma once
// Re-placement between rounds when ranks drift apart (run.rebalance): a rank that is slower than
// its share of the estimated work says (another node, a slower GPU, a busy neighbour) keeps the
// others waiting every round. Every rank feeds the same all-gathered figures and so decides the
// same; results do not depend on the placement beyond float rounding (rank-count invariance).
#include <cstdint>
#include <optional>
#include <vector>

namespace fedsaf {

class Rebalancer {
 public:
  // threshold: the mean idle share, 1 − mean(busy) / max(busy), above which a round counts as
  // drifting (0: never re-place). kRounds drifting rounds in a row make it re-place.
  Rebalancer(double threshold, int world_size);
  static constexpr int kRounds = 2;

  // One round: busy[r] = rank r's training + evaluation seconds, work[r] = the estimated cost
  // (placement.hpp) of what it trained and evaluated; costs and rank_of: every client's estimated
  // cost and current rank. Returns the new rank_of when the ranks drifted for kRounds rounds and
  // a placement by the measured speeds (work / busy since the last re-placement) predicts a
  // slowest rank at least threshold / 2 faster than the current placement's; else nullopt. A rank
  // with no work since the last re-placement keeps the speed it was given then. The sums start
  // again after each re-placement.
  std::optional<std::vector<int>> observe(const std::vector<double>& busy, const std::vector<double>& work,
                                          const std::vector<double>& costs, const std::vector<int>& rank_of);
  // [R] the rank speeds (estimated cost per second) the last re-placement used.
  const std::vector<double>& last_speeds() const { return last_speeds_; }
  // The mean idle share, 1 − mean(busy) / max(busy), of the round last observed.
  double last_idle_share() const { return last_idle_share_; }

 private:
  double threshold_;
  std::vector<double> busy_sum_, work_sum_;  // [R] since the last re-placement
  std::vector<double> last_speeds_;
  double last_idle_share_ = 0;
  int drifting_rounds_ = 0;
};

}  // namespace fedsaf
