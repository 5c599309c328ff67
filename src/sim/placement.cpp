// fedsaf: no-torch
#include "sim/placement.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/rng.hpp"

namespace fedsaf {

std::vector<int> place_clients(const std::vector<int64_t>& train_sizes, int world_size) {
  std::vector<int64_t> order(train_sizes.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return train_sizes[static_cast<size_t>(a)] > train_sizes[static_cast<size_t>(b)];
  });
  std::vector<int64_t> load(static_cast<size_t>(world_size), 0);
  std::vector<int> rank_of(train_sizes.size(), 0);
  for (int64_t client : order) {
    const auto least = std::min_element(load.begin(), load.end());  // first minimum = lowest rank
    const int rank = static_cast<int>(least - load.begin());
    rank_of[static_cast<size_t>(client)] = rank;
    // +1 so that empty clients still spread over ranks instead of piling onto rank 0.
    *least += train_sizes[static_cast<size_t>(client)] + 1;
  }
  return rank_of;
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
