// fedsaf: no-torch
#include "sim/rebalance.hpp"

#include <algorithm>
#include <numeric>

#include "sim/placement.hpp"

namespace fedsaf {

Rebalancer::Rebalancer(double threshold, int world_size)
    : threshold_(threshold),
      busy_sum_(static_cast<size_t>(world_size), 0.0),
      work_sum_(static_cast<size_t>(world_size), 0.0) {}

std::optional<std::vector<int>> Rebalancer::observe(const std::vector<double>& busy, const std::vector<double>& work,
                                                    const std::vector<double>& costs, const std::vector<int>& rank_of) {
  const size_t ranks = busy_sum_.size();
  if (threshold_ <= 0 || ranks < 2) return std::nullopt;
  for (size_t r = 0; r < ranks; ++r) busy_sum_[r] += busy[r], work_sum_[r] += work[r];
  const double slowest = *std::max_element(busy.begin(), busy.end());
  const double mean = std::accumulate(busy.begin(), busy.end(), 0.0) / static_cast<double>(ranks);
  last_idle_share_ = slowest > 0 ? 1.0 - mean / slowest : 0.0;
  const bool drifting = last_idle_share_ > threshold_;
  drifting_rounds_ = drifting ? drifting_rounds_ + 1 : 0;
  if (drifting_rounds_ < kRounds) return std::nullopt;
  drifting_rounds_ = 0;

  // Speeds since the last re-placement. A rank without work since then (an earlier re-placement
  // emptied it) keeps the speed it was last given: taking it at the others' speed would move
  // the clients straight back. One never measured is taken at the mean measured speed.
  std::vector<double> speeds(ranks, 0.0);
  double sum = 0;
  int measured = 0;
  for (size_t r = 0; r < ranks; ++r)
    if (busy_sum_[r] > 0 && work_sum_[r] > 0) {
      speeds[r] = work_sum_[r] / busy_sum_[r];
      sum += speeds[r];
      ++measured;
    }
  if (measured == 0) return std::nullopt;
  for (size_t r = 0; r < ranks; ++r)
    if (speeds[r] <= 0) speeds[r] = !last_speeds_.empty() && last_speeds_[r] > 0 ? last_speeds_[r] : sum / measured;
  std::vector<int> placed = place_by_cost(costs, static_cast<int>(ranks), speeds);
  if (predicted_makespan(costs, placed, speeds) > (1.0 - threshold_ / 2) * predicted_makespan(costs, rank_of, speeds))
    return std::nullopt;  // not worth moving state for
  last_speeds_ = speeds;
  std::fill(busy_sum_.begin(), busy_sum_.end(), 0.0);
  std::fill(work_sum_.begin(), work_sum_.end(), 0.0);
  return placed;
}

}  // namespace fedsaf
