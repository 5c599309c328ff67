#pragma once
// Non-IID partitions of a labelled data set over N clients, then a per-client train/test split.
// Torch-free. Every draw comes from RngStream(seed, kPartition / kTrainTestSplit, ...), so the
// same config gives the same partition on any machine and any number of ranks.
#include <cstdint>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace fedsaf {

struct ClientSplit {
  std::vector<int64_t> train;  // sample indices into the data set, sorted ascending
  std::vector<int64_t> test;   // sample indices, sorted ascending
};

struct Partition {
  std::string method;  // the resolved method ("dirichlet", ...; never "auto")
  int64_t num_classes = 0;
  std::vector<ClientSplit> clients;
  // histogram[i][c] = number of client i's samples (train + test) with label c.
  std::vector<std::vector<int64_t>> histogram;
};

// labels: one per sample in [0, num_classes). groups: one per sample, or empty when the data set
// has none (natural then fails with a clear error). num_clients: config.run.clients (0 = from the
// groups, natural only). Throws ConfigError when the request cannot be met (e.g. min_size).
Partition make_partition(const PartitionConfig& config, uint64_t seed, int64_t num_clients,
                         const std::vector<int64_t>& labels, const std::vector<int64_t>& groups,
                         int64_t num_classes);

struct PartitionStats {
  int64_t min_size = 0, max_size = 0;
  double median_size = 0;
  double mean_classes_per_client = 0;
  // Label skew: mean over clients of the total-variation distance between the client's label
  // distribution and the global one (0 = IID, → 1 = disjoint labels).
  double label_skew = 0;
};
PartitionStats partition_stats(const Partition& p);

}  // namespace fedsaf
