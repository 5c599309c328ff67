// fedsaf: no-torch
// partition.method = quantity. Quantity skew: IID labels, power-law client sizes.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/errors.hpp"
#include "core/rng.hpp"
#include "data/partition_registry.hpp"

namespace fedsaf {

namespace {

using Index = std::vector<int64_t>;

// IID labels, sizes ∝ (rank + 1)^-a over a seeded client order; every client gets one sample
// first and the rest is dealt by largest remainder, so the sizes sum to the data set exactly.
std::vector<Index> partition_quantity(const PartitionConfig& cfg, uint64_t seed, int64_t n, int64_t samples) {
  if (!(cfg.power >= 0.0) || !std::isfinite(cfg.power))
    throw ConfigError(fmt::format("partition.power = {} must be a number >= 0", cfg.power));
  RngStream rng(seed, RngPurpose::kPartition, kQuantity);
  const Index client_order = rng.permutation(n);
  std::vector<double> w(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) w[static_cast<size_t>(r)] = std::pow(static_cast<double>(r + 1), -cfg.power);
  const double total_w = std::accumulate(w.begin(), w.end(), 0.0);
  const int64_t rest = samples - n;
  Index size(static_cast<size_t>(n), 1);
  std::vector<std::pair<double, int64_t>> remainder;  // (fractional part, rank)
  int64_t dealt = 0;
  for (int64_t r = 0; r < n; ++r) {
    const double exact = static_cast<double>(rest) * w[static_cast<size_t>(r)] / total_w;
    const int64_t whole = static_cast<int64_t>(std::floor(exact));
    size[static_cast<size_t>(r)] += whole;
    dealt += whole;
    remainder.emplace_back(exact - static_cast<double>(whole), r);
  }
  // Largest fractions first; ties to the lower rank so the deal is deterministic.
  std::sort(remainder.begin(), remainder.end(),
            [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  for (int64_t i = 0; dealt < rest; ++i, ++dealt) size[static_cast<size_t>(remainder[static_cast<size_t>(i % n)].second)] += 1;
  const Index perm = rng.permutation(samples);
  std::vector<Index> clients(static_cast<size_t>(n));
  int64_t begin = 0;
  for (int64_t r = 0; r < n; ++r) {
    const int64_t end = begin + size[static_cast<size_t>(r)];
    clients[static_cast<size_t>(client_order[static_cast<size_t>(r)])].assign(perm.begin() + begin, perm.begin() + end);
    begin = end;
  }
  return clients;
}

const bool registered = partitions().add(
    {40, "quantity", "(IID labels, client sizes by a power law in partition.power)"},
    {[](const PartitionRequest& r) { return partition_quantity(r.config, r.seed, r.num_clients, r.samples()); },
     [](const PartitionConfig& c) { return fmt::format("quantity (power = {})", c.power); }});

}  // namespace

}  // namespace fedsaf
