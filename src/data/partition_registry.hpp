#pragma once
// The partition methods by name (partition.method; `auto` is make_partition's). Each method
// registers itself in its own file (partition_<name>.cpp):
//   const bool registered = partitions().add({order, "name", "what it does"}, {deal, describe});
// which adds the name to partition.method's choices and docs/config.md, `deal` to make_partition
// (which then splits each client's samples into train and test) and `describe` to the summary of
// `fedsaf partition`.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/registry.hpp"

namespace fedsaf {

// What a method deals from (make_partition has checked labels, groups and num_clients).
struct PartitionRequest {
  const PartitionConfig& config;
  uint64_t seed;
  int64_t num_clients;                // 0 only for natural (then: one client per group)
  const std::vector<int64_t>& labels;  // one per sample, in [0, num_classes)
  const std::vector<int64_t>& groups;  // one per sample, or empty
  int64_t num_classes;

  int64_t samples() const { return static_cast<int64_t>(labels.size()); }
  std::vector<std::vector<int64_t>> by_class() const;  // samples of each class, ascending
};
struct PartitionMethod {
  // Returns each client's samples (any order; make_partition sorts them).
  std::function<std::vector<std::vector<int64_t>>(const PartitionRequest&)> deal;
  // The method with its settings, e.g. "dirichlet (alpha = 0.1, min_size = 10)"; unset: the name.
  std::function<std::string(const PartitionConfig&)> describe = {};
};

Registry<PartitionMethod>& partitions();

// First coordinate of RngStream(seed, kPartition, tag, ...): keeps the methods' streams apart (one
// config never mixes them, but a user comparing methods on one seed should not get correlated
// deals). A new method takes a new number; these are fixed, for reproducible partitions.
enum PartitionStreamTag : uint32_t { kIid = 1, kDirichlet = 2, kPathological = 3, kQuantity = 4 };

}  // namespace fedsaf
