// fedsaf: no-torch
// partition.method = natural. The data set's own groups as clients.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "core/errors.hpp"
#include "data/partition_registry.hpp"

namespace fedsaf {

namespace {

using Index = std::vector<int64_t>;

std::vector<Index> partition_natural(int64_t n, const Index& groups) {
  if (groups.empty())
    throw ConfigError(
        "partition.method = natural: the data set has no groups: natural needs a data set with /group, e.g. "
        "synthetic");
  std::map<int64_t, Index> by_group;  // ordered: clients follow ascending group ids
  for (size_t i = 0; i < groups.size(); ++i) by_group[groups[i]].push_back(static_cast<int64_t>(i));
  const int64_t num_groups = static_cast<int64_t>(by_group.size());
  if (n != 0 && n != num_groups)
    throw ConfigError(fmt::format(
        "run.clients = {} but the data set has {} groups; natural makes one client per group (set run.clients = "
        "{} or 0)",
        n, num_groups, num_groups));
  std::vector<Index> clients;
  clients.reserve(static_cast<size_t>(num_groups));
  for (auto& [id, idx] : by_group) clients.push_back(std::move(idx));
  return clients;
}

const bool registered = partitions().add(
    {50, "natural", "(one client per group of the data set: synthetic's clients, an HDF5 file's /group)"},
    {[](const PartitionRequest& r) { return partition_natural(r.num_clients, r.groups); },
     [](const PartitionConfig&) { return std::string("natural (one client per group)"); }});

}  // namespace

}  // namespace fedsaf
