// fedsaf: no-torch
// partition.method = dirichlet. Label skew by a Dirichlet draw per class.
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

constexpr int kMaxDirichletAttempts = 1000;

// The PFLlib / NIID-Bench recipe: per class, p ~ Dir(α) over clients; clients that already hold
// their fair share (total / N) get no more; cut the shuffled class by cumulative proportions.
// Redraw everything until every client has ≥ min_size samples.
std::vector<Index> partition_dirichlet(const PartitionConfig& cfg, uint64_t seed, int64_t n,
                                       const std::vector<Index>& by_class, int64_t samples) {
  if (!(cfg.alpha > 0.0) || !std::isfinite(cfg.alpha))
    throw ConfigError(fmt::format("partition.alpha = {} must be a positive number", cfg.alpha));
  if (cfg.min_size < 0) throw ConfigError(fmt::format("partition.min_size = {} must be >= 0", cfg.min_size));
  if (cfg.min_size > 0 && cfg.min_size * n > samples)
    throw ConfigError(fmt::format(
        "partition.min_size = {} cannot hold: {} clients x {} needs {} samples but the data set has {}; "
        "use a smaller partition.min_size or fewer clients",
        cfg.min_size, n, cfg.min_size, cfg.min_size * n, samples));
  const double fair_share = static_cast<double>(samples) / static_cast<double>(n);
  int64_t best_smallest = 0;
  for (int attempt = 0; attempt < kMaxDirichletAttempts; ++attempt) {
    RngStream rng(seed, RngPurpose::kPartition, kDirichlet, static_cast<uint32_t>(attempt));
    std::vector<Index> clients(static_cast<size_t>(n));
    for (const Index& cls : by_class) {
      Index idx = cls;
      rng.shuffle(idx);
      std::vector<double> p = rng.dirichlet(cfg.alpha, n);
      double sum = 0.0;
      for (int64_t j = 0; j < n; ++j) {
        if (static_cast<double>(clients[static_cast<size_t>(j)].size()) >= fair_share) p[static_cast<size_t>(j)] = 0.0;
        sum += p[static_cast<size_t>(j)];
      }
      if (!(sum > 0.0)) {
        // Every eligible client's share underflowed (tiny α): spread evenly over them instead.
        for (int64_t j = 0; j < n; ++j)
          p[static_cast<size_t>(j)] = static_cast<double>(clients[static_cast<size_t>(j)].size()) < fair_share ? 1.0 : 0.0;
        sum = std::accumulate(p.begin(), p.end(), 0.0);
        if (!(sum > 0.0)) {
          std::fill(p.begin(), p.end(), 1.0);
          sum = static_cast<double>(n);
        }
      }
      const int64_t m = static_cast<int64_t>(idx.size());
      // The last client with a share takes the rest, so rounding never hands samples to a client
      // whose share was zeroed.
      int64_t last = n - 1;
      while (last > 0 && p[static_cast<size_t>(last)] <= 0.0) --last;
      double cumulative = 0.0;
      int64_t begin = 0;
      for (int64_t j = 0; j < n; ++j) {
        cumulative += p[static_cast<size_t>(j)] / sum;
        const int64_t end = j >= last ? m : std::min(m, static_cast<int64_t>(cumulative * static_cast<double>(m)));
        if (end > begin) {
          auto& dst = clients[static_cast<size_t>(j)];
          dst.insert(dst.end(), idx.begin() + begin, idx.begin() + end);
          begin = end;
        }
      }
    }
    int64_t smallest = samples;
    for (const Index& c : clients) smallest = std::min<int64_t>(smallest, static_cast<int64_t>(c.size()));
    if (smallest >= cfg.min_size) return clients;
    best_smallest = std::max(best_smallest, smallest);
  }
  throw ConfigError(fmt::format(
      "partition.min_size = {} not reached: after {} Dirichlet draws (alpha = {}, {} clients) the smallest "
      "client had at most {} samples; use a larger partition.alpha, a smaller partition.min_size or fewer clients",
      cfg.min_size, kMaxDirichletAttempts, cfg.alpha, n, best_smallest));
}

const bool registered = partitions().add(
    {20, "dirichlet", "(per class, shares ~ Dir(partition.alpha) over clients; each client gets at least partition.min_size samples)"},
    {[](const PartitionRequest& r) { return partition_dirichlet(r.config, r.seed, r.num_clients, r.by_class(), r.samples()); },
     [](const PartitionConfig& c) { return fmt::format("dirichlet (alpha = {}, min_size = {})", c.alpha, c.min_size); }});

}  // namespace

}  // namespace fedsaf
