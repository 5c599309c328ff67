// fedsaf: no-torch
// partition.method = iid. IID: one seeded permutation of the samples, cut into near-equal parts.
#include <fmt/format.h>

#include <algorithm>

#include "core/errors.hpp"
#include "core/rng.hpp"
#include "data/partition_registry.hpp"

namespace fedsaf {

namespace {

using Index = std::vector<int64_t>;

std::vector<Index> partition_iid(uint64_t seed, int64_t n, int64_t samples) {
  RngStream rng(seed, RngPurpose::kPartition, kIid);
  const Index perm = rng.permutation(samples);
  std::vector<Index> clients(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    // Near-equal parts: sizes differ by at most one.
    const int64_t begin = i * samples / n, end = (i + 1) * samples / n;
    clients[static_cast<size_t>(i)].assign(perm.begin() + begin, perm.begin() + end);
  }
  return clients;
}

const bool registered = partitions().add({10, "iid", "(a uniform shuffle cut into near-equal parts)"},
                                         {[](const PartitionRequest& r) { return partition_iid(r.seed, r.num_clients, r.samples()); }});

}  // namespace

}  // namespace fedsaf
