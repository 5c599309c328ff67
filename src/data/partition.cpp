// fedsaf: no-torch
// make_partition: checks the request, resolves `auto`, lets the registered method deal the samples
// (partition_<name>.cpp, data/partition_registry.hpp), then splits each client's. Every draw comes
// from a RngStream whose coordinates name what it is for:
//   RngStream(seed, kPartition, method tag, attempt)  — the deal of samples to clients;
//   RngStream(seed, kTrainTestSplit, client)          — client i's train/test split.
// No <random> distributions and no global state, so the result is the same on any machine and
// any number of ranks.
#include "data/partition.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"
#include "core/rng.hpp"
#include "data/partition_registry.hpp"

namespace fedsaf {

namespace {

using Index = std::vector<int64_t>;

ClientSplit split_client(Index samples, double train_fraction, uint64_t seed, int64_t client) {
  ClientSplit split;
  const int64_t n = static_cast<int64_t>(samples.size());
  if (n == 0) return split;
  // Sorted first so the split depends only on the set of samples, not on the deal's order.
  std::sort(samples.begin(), samples.end());
  RngStream rng(seed, RngPurpose::kTrainTestSplit, static_cast<uint32_t>(client));
  rng.shuffle(samples);
  int64_t n_train = std::llround(train_fraction * static_cast<double>(n));
  n_train = std::max<int64_t>(n_train, 1);
  if (n >= 2) n_train = std::min(n_train, n - 1);  // every client with ≥ 2 samples can be tested
  split.train.assign(samples.begin(), samples.begin() + n_train);
  split.test.assign(samples.begin() + n_train, samples.end());
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.test.begin(), split.test.end());
  return split;
}

}  // namespace

Partition make_partition(const PartitionConfig& config, uint64_t seed, int64_t num_clients, const Index& labels,
                         const Index& groups, int64_t num_classes) {
  const int64_t samples = static_cast<int64_t>(labels.size());
  if (samples == 0) throw DataError("the data set has no samples to partition");
  if (num_classes < 1) throw DataError(fmt::format("the data set declares {} classes; need at least 1", num_classes));
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0 || labels[i] >= num_classes)
      throw DataError(fmt::format("label of sample {} is {}, outside [0, {})", i, labels[i], num_classes));
  if (!groups.empty() && groups.size() != labels.size())
    throw DataError(fmt::format("the data set has {} group ids for {} samples", groups.size(), labels.size()));
  if (!(config.train_fraction >= 0.0 && config.train_fraction <= 1.0))
    throw ConfigError(fmt::format("partition.train_fraction = {} must lie in [0, 1]", config.train_fraction));
  if (num_clients < 0) throw ConfigError(fmt::format("run.clients = {} must be >= 0", num_clients));

  std::string method = config.method;
  if (method == "auto") method = groups.empty() ? "dirichlet" : "natural";
  if (method != "natural") {
    if (num_clients == 0)
      throw ConfigError(fmt::format("run.clients = 0 is only allowed with partition.method = natural (got {})", method));
    if (num_clients > samples)
      throw ConfigError(fmt::format("run.clients = {} exceeds the data set's {} samples", num_clients, samples));
    if (num_clients > int64_t{UINT32_MAX})
      throw ConfigError(fmt::format("run.clients = {} is too large", num_clients));
  }

  std::vector<Index> dealt = partitions().get(method).deal({config, seed, num_clients, labels, groups, num_classes});

  Partition p;
  p.method = method;
  p.num_classes = num_classes;
  p.clients.reserve(dealt.size());
  p.histogram.assign(dealt.size(), Index(static_cast<size_t>(num_classes), 0));
  for (size_t i = 0; i < dealt.size(); ++i) {
    for (int64_t s : dealt[i]) ++p.histogram[i][static_cast<size_t>(labels[static_cast<size_t>(s)])];
    p.clients.push_back(split_client(std::move(dealt[i]), config.train_fraction, seed, static_cast<int64_t>(i)));
  }
  return p;
}

PartitionStats partition_stats(const Partition& p) {
  PartitionStats s;
  const size_t n = p.clients.size();
  if (n == 0) return s;
  std::vector<int64_t> sizes;
  sizes.reserve(n);
  for (const ClientSplit& c : p.clients) sizes.push_back(static_cast<int64_t>(c.train.size() + c.test.size()));
  std::vector<int64_t> sorted = sizes;
  std::sort(sorted.begin(), sorted.end());
  s.min_size = sorted.front();
  s.max_size = sorted.back();
  s.median_size = n % 2 ? static_cast<double>(sorted[n / 2])
                        : 0.5 * static_cast<double>(sorted[n / 2 - 1] + sorted[n / 2]);

  const size_t num_classes = static_cast<size_t>(p.num_classes);
  std::vector<double> global(num_classes, 0.0);
  double total = 0.0;
  int64_t classes_held = 0;
  for (const auto& row : p.histogram)
    for (size_t c = 0; c < num_classes && c < row.size(); ++c) {
      global[c] += static_cast<double>(row[c]);
      total += static_cast<double>(row[c]);
      classes_held += row[c] > 0;
    }
  s.mean_classes_per_client = static_cast<double>(classes_held) / static_cast<double>(n);
  if (total <= 0.0) return s;
  for (double& g : global) g /= total;
  // Total-variation distance per client; clients without samples have no distribution and are skipped.
  double skew = 0.0;
  int64_t counted = 0;
  for (size_t i = 0; i < p.histogram.size(); ++i) {
    const auto& row = p.histogram[i];
    double ni = 0.0;
    for (size_t c = 0; c < num_classes && c < row.size(); ++c) ni += static_cast<double>(row[c]);
    if (ni <= 0.0) continue;
    double tv = 0.0;
    for (size_t c = 0; c < num_classes; ++c) tv += std::abs((c < row.size() ? static_cast<double>(row[c]) : 0.0) / ni - global[c]);
    skew += 0.5 * tv;
    ++counted;
  }
  s.label_skew = counted ? skew / static_cast<double>(counted) : 0.0;
  return s;
}

}  // namespace fedsaf
