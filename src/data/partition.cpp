// fedsaf: no-torch
// Partitioners. Every draw comes from a RngStream whose coordinates name what it is for:
//   RngStream(seed, kPartition, method tag, attempt)  — the deal of samples to clients;
//   RngStream(seed, kTrainTestSplit, client)          — client i's train/test split.
// No <random> distributions and no global state, so the result is the same on any machine and
// any number of ranks.
#include "data/partition.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "core/errors.hpp"
#include "core/rng.hpp"

namespace fedsaf {

namespace {

using Index = std::vector<int64_t>;

// First stream coordinate: keeps the methods' streams apart (one config never mixes them, but a
// user comparing methods on one seed should not get correlated deals).
enum MethodTag : uint32_t { kIid = 1, kDirichlet = 2, kPathological = 3, kQuantity = 4 };

constexpr int kMaxDirichletAttempts = 1000;

// Samples of each class, ascending.
std::vector<Index> indices_by_class(const Index& labels, int64_t num_classes) {
  std::vector<Index> by_class(static_cast<size_t>(num_classes));
  for (size_t i = 0; i < labels.size(); ++i) by_class[static_cast<size_t>(labels[i])].push_back(static_cast<int64_t>(i));
  return by_class;
}

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

  std::vector<Index> dealt;
  if (method == "iid") {
    dealt = partition_iid(seed, num_clients, samples);
  } else if (method == "dirichlet") {
    dealt = partition_dirichlet(config, seed, num_clients, indices_by_class(labels, num_classes), samples);
  } else if (method == "pathological") {
    dealt = partition_pathological(config, seed, num_clients, indices_by_class(labels, num_classes));
  } else if (method == "quantity") {
    dealt = partition_quantity(config, seed, num_clients, samples);
  } else if (method == "natural") {
    dealt = partition_natural(num_clients, groups);
  } else {
    throw ConfigError(fmt::format(
        "partition.method = '{}' is unknown; use auto, iid, dirichlet, pathological, quantity or natural", method));
  }

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
