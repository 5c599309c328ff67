// fedsaf: no-torch
// partition.method = pathological. Label skew by a fixed number of classes per client.
#include <fmt/format.h>

#include <algorithm>

#include "core/errors.hpp"
#include "core/rng.hpp"
#include "data/partition_registry.hpp"

namespace fedsaf {

namespace {

using Index = std::vector<int64_t>;

// Classes are dealt round-robin over a seeded class order π: client i holds π[(i·k + j) mod C],
// j < k — k consecutive entries mod C, hence distinct, and every class is held by ⌊N·k/C⌋ or
// ⌈N·k/C⌉ clients. Each class's shuffled samples are split evenly among its holders.
std::vector<Index> partition_pathological(const PartitionConfig& cfg, uint64_t seed, int64_t n,
                                          const std::vector<Index>& by_class) {
  const int64_t k = cfg.classes_per_client, num_classes = static_cast<int64_t>(by_class.size());
  if (k < 1) throw ConfigError(fmt::format("partition.classes_per_client = {} must be >= 1", k));
  if (k > num_classes)
    throw ConfigError(fmt::format("partition.classes_per_client = {} exceeds the data set's {} classes", k,
                                  num_classes));
  if (n * k < num_classes)
    throw ConfigError(fmt::format(
        "partition.classes_per_client = {} with {} clients covers only {} of the {} classes (their samples "
        "would be dropped); use more clients or a larger partition.classes_per_client",
        k, n, n * k, num_classes));
  RngStream rng(seed, RngPurpose::kPartition, kPathological);
  const Index order = rng.permutation(num_classes);
  std::vector<Index> holders(static_cast<size_t>(num_classes));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) holders[static_cast<size_t>(order[static_cast<size_t>((i * k + j) % num_classes)])].push_back(i);
  std::vector<Index> clients(static_cast<size_t>(n));
  for (int64_t c = 0; c < num_classes; ++c) {
    Index idx = by_class[static_cast<size_t>(c)];
    const Index& h = holders[static_cast<size_t>(c)];
    const int64_t m = static_cast<int64_t>(idx.size()), parts = static_cast<int64_t>(h.size());
    if (m < parts)
      throw ConfigError(fmt::format(
          "partition.classes_per_client = {}: class {} has {} samples but {} clients must hold it; use fewer "
          "clients or a smaller partition.classes_per_client",
          k, c, m, parts));
    rng.shuffle(idx);
    for (int64_t j = 0; j < parts; ++j) {
      const int64_t begin = j * m / parts, end = (j + 1) * m / parts;
      auto& dst = clients[static_cast<size_t>(h[static_cast<size_t>(j)])];
      dst.insert(dst.end(), idx.begin() + begin, idx.begin() + end);
    }
  }
  return clients;
}

const bool registered = partitions().add(
    {30, "pathological", "(partition.classes_per_client classes per client)"},
    {[](const PartitionRequest& r) { return partition_pathological(r.config, r.seed, r.num_clients, r.by_class()); },
     [](const PartitionConfig& c) { return fmt::format("pathological (classes_per_client = {})", c.classes_per_client); }});

}  // namespace

}  // namespace fedsaf
