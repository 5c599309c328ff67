// fedsaf: no-torch
#include "data/partition_table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "data/partition_registry.hpp"

namespace fedsaf {

namespace {

// Up to this many "class:count" entries in the top-classes column.
constexpr size_t kTopClasses = 5;

std::string top_classes(const std::vector<int64_t>& row) {
  std::vector<int64_t> order(row.size());
  std::iota(order.begin(), order.end(), 0);
  // Most samples first; ties to the lower class so the text is deterministic.
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return row[static_cast<size_t>(a)] > row[static_cast<size_t>(b)]; });
  std::string out;
  for (size_t i = 0; i < order.size() && i < kTopClasses; ++i) {
    const int64_t count = row[static_cast<size_t>(order[i])];
    if (count == 0) break;
    out += fmt::format("{}{}:{}", out.empty() ? "" : " ", order[i], count);
  }
  return out.empty() ? "-" : out;
}

}  // namespace

std::string format_partition_table(const Partition& p, int64_t max_rows) {
  const size_t n = p.clients.size(), num_classes = static_cast<size_t>(p.num_classes);
  const bool per_class = p.num_classes <= kMaxHistogramColumns;

  std::vector<std::string> header{"client", "train", "test"};
  if (per_class)
    for (size_t c = 0; c < num_classes; ++c) header.push_back(std::to_string(c));
  else
    header.push_back("top classes (class:samples)");

  std::vector<std::vector<std::string>> rows;
  const size_t shown = max_rows > 0 ? std::min(n, static_cast<size_t>(max_rows)) : n;
  int64_t total_train = 0, total_test = 0;
  std::vector<int64_t> total_hist(num_classes, 0);
  for (size_t i = 0; i < n; ++i) {
    const auto& row = p.histogram[i];
    total_train += static_cast<int64_t>(p.clients[i].train.size());
    total_test += static_cast<int64_t>(p.clients[i].test.size());
    for (size_t c = 0; c < num_classes && c < row.size(); ++c) total_hist[c] += row[c];
    if (i >= shown) continue;
    std::vector<std::string> cells{std::to_string(i), std::to_string(p.clients[i].train.size()),
                                   std::to_string(p.clients[i].test.size())};
    if (per_class)
      for (size_t c = 0; c < num_classes; ++c) cells.push_back(std::to_string(c < row.size() ? row[c] : 0));
    else
      cells.push_back(top_classes(row));
    rows.push_back(std::move(cells));
  }
  std::vector<std::string> total{"total", std::to_string(total_train), std::to_string(total_test)};
  if (per_class)
    for (int64_t t : total_hist) total.push_back(std::to_string(t));
  else
    total.push_back(top_classes(total_hist));

  std::vector<size_t> width(header.size());
  auto widen = [&](const std::vector<std::string>& cells) {
    for (size_t j = 0; j < cells.size(); ++j) width[j] = std::max(width[j], cells[j].size());
  };
  widen(header);
  for (const auto& r : rows) widen(r);
  widen(total);
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t j = 0; j < cells.size(); ++j) {
      // The top-classes column is free text: left-aligned and last, so it needs no padding.
      const bool text = !per_class && j + 1 == cells.size();
      if (j) out += "  ";
      out += text ? cells[j] : fmt::format("{:>{}}", cells[j], width[j]);
    }
    return out + "\n";
  };

  std::string out;
  if (per_class) out += fmt::format("samples per client and class (columns 0..{} are class labels)\n", num_classes - 1);
  out += line(header);
  for (const auto& r : rows) out += line(r);
  if (shown < n) out += fmt::format("... {} more clients (--max-rows 0 shows all)\n", n - shown);
  out += line(total);
  return out;
}

std::string describe_partition_method(const std::string& method, const PartitionConfig& config) {
  const PartitionMethod* known = partitions().find(method);
  return known != nullptr && known->describe ? known->describe(config) : method;
}

std::string format_partition_summary(const Partition& p, const PartitionStats& stats, const PartitionConfig& config,
                                     const std::string& dataset_name, int64_t dataset_size) {
  int64_t train = 0, test = 0;
  for (const ClientSplit& c : p.clients) {
    train += static_cast<int64_t>(c.train.size());
    test += static_cast<int64_t>(c.test.size());
  }
  std::string out;
  out += fmt::format("data set     {} ({} samples, {} classes)\n", dataset_name, dataset_size, p.num_classes);
  out += fmt::format("partition    {}, train fraction {}\n", describe_partition_method(p.method, config),
                     config.train_fraction);
  out += fmt::format("clients      {}\n", p.clients.size());
  out += fmt::format("samples      {} dealt ({} train, {} test)\n", train + test, train, test);
  out += fmt::format("client size  min {}, median {}, max {}\n", stats.min_size, stats.median_size, stats.max_size);
  out += fmt::format("classes      {:.2f} per client on average\n", stats.mean_classes_per_client);
  out += fmt::format("label skew   {:.3f} (mean total-variation distance to the global label mix; 0 = IID)\n",
                     stats.label_skew);
  return out;
}

namespace {

// Non-negative values as int32 when all fit (a data set below 2^31 samples: half the bytes of
// int64 in the run files and checkpoints of large runs), else as int64.
void write_narrowest(h5::Group& group, const char* name, const std::vector<int64_t>& values) {
  const int64_t largest = values.empty() ? 0 : *std::max_element(values.begin(), values.end());
  if (largest > std::numeric_limits<int32_t>::max()) {
    group.write(name, values);
  } else {
    group.write(name, std::vector<int32_t>(values.begin(), values.end()));
  }
}

}  // namespace

void write_partition_h5(const Partition& p, h5::Group& group) {
  const int64_t n = static_cast<int64_t>(p.clients.size()), num_classes = p.num_classes;
  std::vector<int64_t> sizes, histogram, train_offsets{0}, test_offsets{0}, train_indices, test_indices;
  sizes.reserve(static_cast<size_t>(2 * n));
  histogram.reserve(static_cast<size_t>(n * num_classes));
  for (int64_t i = 0; i < n; ++i) {
    const ClientSplit& c = p.clients[static_cast<size_t>(i)];
    sizes.push_back(static_cast<int64_t>(c.train.size()));
    sizes.push_back(static_cast<int64_t>(c.test.size()));
    const auto& row = p.histogram[static_cast<size_t>(i)];
    for (int64_t k = 0; k < num_classes; ++k)
      histogram.push_back(static_cast<size_t>(k) < row.size() ? row[static_cast<size_t>(k)] : 0);
    train_indices.insert(train_indices.end(), c.train.begin(), c.train.end());
    test_indices.insert(test_indices.end(), c.test.begin(), c.test.end());
    train_offsets.push_back(static_cast<int64_t>(train_indices.size()));
    test_offsets.push_back(static_cast<int64_t>(test_indices.size()));
  }
  group.write("sizes", sizes, {n, 2});
  group.write("histogram", histogram, {n, num_classes});
  for (const auto& [name, values] : {std::pair{"train_offsets", &train_offsets}, {"train_indices", &train_indices},
                                     {"test_offsets", &test_offsets}, {"test_indices", &test_indices}})
    write_narrowest(group, name, *values);

  const PartitionStats stats = partition_stats(p);
  auto attrs = group.attrs();
  attrs.set("method", p.method);
  attrs.set("num_classes", num_classes);
  attrs.set("num_clients", n);
  attrs.set("min_size", stats.min_size);
  attrs.set("median_size", stats.median_size);
  attrs.set("max_size", stats.max_size);
  attrs.set("mean_classes_per_client", stats.mean_classes_per_client);
  attrs.set("label_skew", stats.label_skew);
}

}  // namespace fedsaf
