#pragma once
// Presenting a partition: the per-client table and summary that `fedsaf partition` prints, and
// the /partition group of fedsaf's HDF5 files (layout in io/SCHEMA.md). Torch-free.
#include <cstdint>
#include <string>

#include "core/config.hpp"
#include "data/partition.hpp"
#include "io/h5.hpp"

namespace fedsaf {

// Up to this many classes the table has one column per class; above it, a "top classes" column.
inline constexpr int64_t kMaxHistogramColumns = 20;

// One row per client (client, train, test, then the label histogram or its top classes), and a
// final "total" row. max_rows > 0 prints only the first max_rows clients and a line saying how
// many were left out (the total row still counts every client).
std::string format_partition_table(const Partition& p, int64_t max_rows = 0);

// The summary block: data set, method and its parameters, clients, samples, client sizes,
// classes per client, label skew.
std::string format_partition_summary(const Partition& p, const PartitionStats& stats,
                                     const PartitionConfig& config, const std::string& dataset_name,
                                     int64_t dataset_size);

// The method and the parameters it uses, e.g. "dirichlet (alpha = 0.1, min_size = 10)".
std::string describe_partition_method(const std::string& method, const PartitionConfig& config);

// Writes into `group` (the /partition group): sizes [N, 2] (train, test), histogram [N, C],
// train_offsets / test_offsets [N + 1] and train_indices / test_indices (CSR), all int64; and
// the attributes method, num_classes, num_clients and the stats of partition_stats (min_size,
// median_size, max_size, mean_classes_per_client, label_skew). In a parallel file every rank
// calls it with the same partition.
void write_partition_h5(const Partition& p, h5::Group& group);

}  // namespace fedsaf
