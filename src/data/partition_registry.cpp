// fedsaf: no-torch
// The one registry of partition methods (a function-local static: methods register from other
// files' static initialisers, in any order).
#include "data/partition_registry.hpp"

namespace fedsaf {

std::vector<std::vector<int64_t>> PartitionRequest::by_class() const {
  std::vector<std::vector<int64_t>> classes(static_cast<size_t>(num_classes));
  for (size_t i = 0; i < labels.size(); ++i) classes[static_cast<size_t>(labels[i])].push_back(static_cast<int64_t>(i));
  return classes;
}

Registry<PartitionMethod>& partitions() {
  static Registry<PartitionMethod> all("partition.method", "partition.method = '{value}' is unknown; use auto, {choices}");
  return all;
}

}  // namespace fedsaf
