// fedsaf: no-torch
#include "sim/placement.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/rng.hpp"

namespace fedsaf {

std::vector<double> estimate_client_costs(const std::vector<int64_t>& train_sizes,
                                          const std::vector<int64_t>& test_sizes, const CostRule& rule) {
  std::vector<double> costs(train_sizes.size());
  for (size_t c = 0; c < costs.size(); ++c) {
    const auto n = static_cast<double>(train_sizes[c]);
    const auto steps = static_cast<double>((train_sizes[c] + rule.batch_size - 1) / rule.batch_size);
    const int64_t test = c < test_sizes.size() ? test_sizes[c] : 0;
    costs[c] = static_cast<double>(rule.epochs) * (n + kStepOverhead * steps) +
               eval_cost(test) / static_cast<double>(rule.eval_every) + kClientOverhead;
  }
  return costs;
}

std::vector<int> place_by_cost(const std::vector<double>& costs, int world_size, const std::vector<double>& speeds) {
  std::vector<int64_t> order(costs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return costs[static_cast<size_t>(a)] > costs[static_cast<size_t>(b)];
  });
  const auto speed = [&](int r) { return speeds.empty() ? 1.0 : speeds[static_cast<size_t>(r)]; };
  std::vector<double> load(static_cast<size_t>(world_size), 0.0);
  std::vector<int> rank_of(costs.size(), 0);
  for (int64_t client : order) {
    const double cost = costs[static_cast<size_t>(client)];
    int best = 0;
    for (int r = 1; r < world_size; ++r)  // strict: ties go to the lower rank
      if ((load[static_cast<size_t>(r)] + cost) / speed(r) < (load[static_cast<size_t>(best)] + cost) / speed(best))
        best = r;
    rank_of[static_cast<size_t>(client)] = best;
    load[static_cast<size_t>(best)] += cost;
  }
  return rank_of;
}

double predicted_makespan(const std::vector<double>& costs, const std::vector<int>& rank_of,
                          const std::vector<double>& speeds) {
  std::vector<double> load(speeds.size(), 0.0);
  for (size_t c = 0; c < costs.size(); ++c) load[static_cast<size_t>(rank_of[c])] += costs[c];
  double slowest = 0;
  for (size_t r = 0; r < load.size(); ++r) slowest = std::max(slowest, load[r] / speeds[r]);
  return slowest;
}

std::vector<int64_t> hosted_clients(const std::vector<int>& rank_of, int rank) {
  std::vector<int64_t> hosted;
  for (size_t c = 0; c < rank_of.size(); ++c)
    if (rank_of[c] == rank) hosted.push_back(static_cast<int64_t>(c));
  return hosted;
}

std::vector<int64_t> sample_cohort(uint64_t seed, int64_t round, int64_t num_clients, double join_ratio) {
  const int64_t k = std::max<int64_t>(1, static_cast<int64_t>(std::floor(static_cast<double>(num_clients) * join_ratio + 1e-9)));
  std::vector<int64_t> cohort;
  if (k >= num_clients) {
    cohort.resize(static_cast<size_t>(num_clients));
    std::iota(cohort.begin(), cohort.end(), 0);
    return cohort;
  }
  RngStream rng(seed, RngPurpose::kCohort, static_cast<uint32_t>(round));
  std::vector<int64_t> all = rng.permutation(num_clients);
  cohort.assign(all.begin(), all.begin() + k);
  std::sort(cohort.begin(), cohort.end());
  return cohort;
}

}  // namespace fedsaf
