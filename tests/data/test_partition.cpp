// fedsaf: no-torch
// Partitioners: properties (every sample dealt exactly once, min_size, skew ordering, k classes,
// power-law sizes, natural groups, train fraction, determinism), their errors, the table and the
// /partition HDF5 layout, and `fedsaf partition` end to end.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <numeric>
#include <regex>
#include <set>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <vector>

#include "core/errors.hpp"
#include "data/partition.hpp"
#include "data/partition_table.hpp"
#include "io/h5.hpp"

#include "tests/common/test_support.hpp"

namespace fedsaf {
namespace {

using Index = std::vector<int64_t>;

// num_samples labels over num_classes classes, balanced but not in class order.
Index make_labels(int64_t num_samples, int64_t num_classes) {
  Index labels(static_cast<size_t>(num_samples));
  for (int64_t i = 0; i < num_samples; ++i) labels[static_cast<size_t>(i)] = (i * 7 + i / 13) % num_classes;
  return labels;
}

PartitionConfig method(const std::string& name) {
  PartitionConfig c;
  c.method = name;
  return c;
}

// Every sample in [0, samples) is in exactly one client's train or test split; splits are sorted
// and the histogram counts the client's labels.
void expect_exact_cover(const Partition& p, const Index& labels) {
  std::vector<int> seen(labels.size(), 0);
  ASSERT_EQ(p.histogram.size(), p.clients.size());
  for (size_t i = 0; i < p.clients.size(); ++i) {
    const ClientSplit& c = p.clients[i];
    EXPECT_TRUE(std::is_sorted(c.train.begin(), c.train.end())) << "client " << i;
    EXPECT_TRUE(std::is_sorted(c.test.begin(), c.test.end())) << "client " << i;
    Index hist(static_cast<size_t>(p.num_classes), 0);
    for (const Index* part : {&c.train, &c.test})
      for (int64_t s : *part) {
        ASSERT_GE(s, 0);
        ASSERT_LT(s, static_cast<int64_t>(labels.size()));
        ++seen[static_cast<size_t>(s)];
        ++hist[static_cast<size_t>(labels[static_cast<size_t>(s)])];
      }
    EXPECT_EQ(hist, p.histogram[i]) << "client " << i;
  }
  for (size_t s = 0; s < seen.size(); ++s) ASSERT_EQ(seen[s], 1) << "sample " << s;
}

int64_t client_size(const ClientSplit& c) { return static_cast<int64_t>(c.train.size() + c.test.size()); }

int64_t classes_held(const Index& row) {
  return std::count_if(row.begin(), row.end(), [](int64_t v) { return v > 0; });
}

bool same_partition(const Partition& a, const Partition& b) {
  if (a.method != b.method || a.num_classes != b.num_classes || a.histogram != b.histogram) return false;
  if (a.clients.size() != b.clients.size()) return false;
  for (size_t i = 0; i < a.clients.size(); ++i)
    if (a.clients[i].train != b.clients[i].train || a.clients[i].test != b.clients[i].test) return false;
  return true;
}

// Runs `what` and returns the message of the E it throws ("" and a failure when it does not).
template <typename E, typename F>
std::string error_of(F&& what) {
  try {
    what();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

TEST(PartitionIid, NearEqualSizesAndExactCover) {
  const Index labels = make_labels(1003, 10);
  const Partition p = make_partition(method("iid"), 1, 10, labels, {}, 10);
  EXPECT_EQ(p.method, "iid");
  ASSERT_EQ(p.clients.size(), 10u);
  expect_exact_cover(p, labels);
  const PartitionStats s = partition_stats(p);
  EXPECT_EQ(s.min_size, 100);
  EXPECT_EQ(s.max_size, 101);
  EXPECT_LT(s.label_skew, 0.2);  // sampling noise alone at 100 samples per client
}

TEST(PartitionDirichlet, ExactCoverAndMinSizeHeld) {
  const Index labels = make_labels(10000, 10);
  for (int64_t min_size : {0, 10, 50}) {
    PartitionConfig c = method("dirichlet");
    c.alpha = 0.1;
    c.min_size = min_size;
    const Partition p = make_partition(c, 3, 20, labels, {}, 10);
    ASSERT_EQ(p.clients.size(), 20u);
    expect_exact_cover(p, labels);
    for (const ClientSplit& client : p.clients) EXPECT_GE(client_size(client), std::max<int64_t>(min_size, 1));
  }
}

TEST(PartitionDirichlet, SkewGrowsAsAlphaShrinks) {
  const Index labels = make_labels(10000, 10);
  auto skew = [&](double alpha) {
    PartitionConfig c = method("dirichlet");
    c.alpha = alpha;
    c.min_size = 10;
    return partition_stats(make_partition(c, 1, 20, labels, {}, 10)).label_skew;
  };
  const double tiny = skew(0.05), one = skew(1.0), flat = skew(100.0);
  EXPECT_GT(tiny, one);
  EXPECT_GT(one, flat);
  EXPECT_GT(tiny, 0.6);  // a few classes per client
  EXPECT_LT(flat, 0.1);  // close to IID
}

TEST(PartitionPathological, ExactlyKClassesPerClientEvenlySplit) {
  const Index labels = make_labels(10000, 10);
  // (clients, k): even coverage (20·k divisible by 10) and uneven (7·3 = 21 holders of 10 classes).
  for (auto [n, k] : std::vector<std::pair<int64_t, int64_t>>{{20, 1}, {20, 2}, {20, 3}, {7, 3}}) {
    PartitionConfig c = method("pathological");
    c.classes_per_client = k;
    const Partition p = make_partition(c, 5, n, labels, {}, 10);
    expect_exact_cover(p, labels);
    std::vector<int64_t> holders(10, 0);
    for (const Index& row : p.histogram) {
      EXPECT_EQ(classes_held(row), k);
      for (size_t cls = 0; cls < row.size(); ++cls) holders[cls] += row[cls] > 0;
    }
    const int64_t lo = n * k / 10, hi = (n * k + 9) / 10;
    for (size_t cls = 0; cls < holders.size(); ++cls) {
      EXPECT_GE(holders[cls], lo) << "class " << cls;
      EXPECT_LE(holders[cls], hi) << "class " << cls;
      // Each holder gets an even share of the class (±1).
      int64_t min_share = INT64_MAX, max_share = 0;
      for (const Index& row : p.histogram)
        if (row[cls] > 0) min_share = std::min(min_share, row[cls]), max_share = std::max(max_share, row[cls]);
      EXPECT_LE(max_share - min_share, 1) << "class " << cls;
    }
    EXPECT_DOUBLE_EQ(partition_stats(p).mean_classes_per_client, static_cast<double>(k));
  }
}

TEST(PartitionQuantity, SizesFollowThePowerLaw) {
  const Index labels = make_labels(10000, 10);
  const int64_t n = 20;
  for (double power : {0.0, 1.0, 1.5}) {
    PartitionConfig c = method("quantity");
    c.power = power;
    const Partition p = make_partition(c, 2, n, labels, {}, 10);
    expect_exact_cover(p, labels);
    Index sizes;
    for (const ClientSplit& client : p.clients) sizes.push_back(client_size(client));
    std::sort(sizes.rbegin(), sizes.rend());
    double total_w = 0;
    for (int64_t r = 0; r < n; ++r) total_w += std::pow(r + 1.0, -power);
    for (int64_t r = 0; r < n; ++r) {
      // One sample up front, the rest ∝ (r + 1)^-power.
      const double expected = 1.0 + (10000.0 - n) * std::pow(r + 1.0, -power) / total_w;
      EXPECT_NEAR(static_cast<double>(sizes[static_cast<size_t>(r)]), expected, 1.0) << "rank " << r;
    }
    // IID labels: the largest client sees every class in about equal numbers.
    const auto largest = std::max_element(p.clients.begin(), p.clients.end(), [](const auto& a, const auto& b) {
      return client_size(a) < client_size(b);
    });
    const Index& row = p.histogram[static_cast<size_t>(largest - p.clients.begin())];
    EXPECT_EQ(classes_held(row), 10);
  }
  // The order of sizes over clients is seeded, not by client id.
  PartitionConfig c = method("quantity");
  const Partition p = make_partition(c, 2, n, labels, {}, 10);
  Index sizes;
  for (const ClientSplit& client : p.clients) sizes.push_back(client_size(client));
  EXPECT_FALSE(std::is_sorted(sizes.rbegin(), sizes.rend()));
}

TEST(PartitionNatural, OneClientPerGroupInAscendingOrder) {
  const Index labels = make_labels(300, 10);
  Index groups(300);
  const std::array<int64_t, 3> ids{30, 10, 20};
  for (size_t i = 0; i < groups.size(); ++i) groups[i] = ids[(i * 5 + i / 7) % 3];
  for (int64_t n : {0, 3}) {
    const Partition p = make_partition(method("natural"), 1, n, labels, groups, 10);
    ASSERT_EQ(p.clients.size(), 3u);
    expect_exact_cover(p, labels);
    const std::array<int64_t, 3> sorted_ids{10, 20, 30};
    for (size_t i = 0; i < 3; ++i)
      for (const Index* part : {&p.clients[i].train, &p.clients[i].test})
        for (int64_t s : *part) EXPECT_EQ(groups[static_cast<size_t>(s)], sorted_ids[i]) << "client " << i;
  }
  // auto picks natural when there are groups and dirichlet otherwise.
  EXPECT_EQ(make_partition(method("auto"), 1, 3, labels, groups, 10).method, "natural");
  EXPECT_EQ(make_partition(method("auto"), 1, 3, labels, {}, 10).method, "dirichlet");
}

TEST(PartitionSplit, TrainFractionWithinOneSample) {
  const Index labels = make_labels(2000, 10);
  for (double f : {0.0, 0.5, 0.75, 0.9, 1.0}) {
    PartitionConfig c = method("quantity");  // sizes from 1 to hundreds
    c.power = 2.0;
    c.train_fraction = f;
    const Partition p = make_partition(c, 4, 40, labels, {}, 10);
    expect_exact_cover(p, labels);
    for (size_t i = 0; i < p.clients.size(); ++i) {
      const ClientSplit& s = p.clients[i];
      const int64_t n = client_size(s), train = static_cast<int64_t>(s.train.size());
      EXPECT_LE(std::abs(static_cast<double>(train) - f * static_cast<double>(n)), 1.0) << "client " << i << " f " << f;
      EXPECT_GE(train, 1) << "client " << i;
      if (n >= 2) {
        EXPECT_GE(s.test.size(), 1u) << "client " << i;
      }
    }
  }
}

TEST(PartitionDeterminism, SameSeedSamePartitionOtherSeedDiffers) {
  const Index labels = make_labels(5000, 10);
  for (const char* name : {"iid", "dirichlet", "pathological", "quantity"}) {
    const PartitionConfig c = method(name);
    const Partition a = make_partition(c, 7, 10, labels, {}, 10);
    const Partition b = make_partition(c, 7, 10, labels, {}, 10);
    const Partition other = make_partition(c, 8, 10, labels, {}, 10);
    EXPECT_TRUE(same_partition(a, b)) << name;
    EXPECT_FALSE(same_partition(a, other)) << name;
  }
}

TEST(PartitionErrors, ClearMessages) {
  const Index labels = make_labels(1000, 10);
  const std::string no_groups =
      error_of<ConfigError>([&] { make_partition(method("natural"), 1, 0, labels, {}, 10); });
  EXPECT_NE(no_groups.find("the data set has no groups: natural needs a data set with /group"), std::string::npos)
      << no_groups;

  const Index groups(1000, 4);
  const std::string mismatch = error_of<ConfigError>([&] { make_partition(method("natural"), 1, 5, labels, groups, 10); });
  EXPECT_NE(mismatch.find("run.clients = 5 but the data set has 1 groups"), std::string::npos) << mismatch;

  PartitionConfig too_many = method("pathological");
  too_many.classes_per_client = 11;
  const std::string k = error_of<ConfigError>([&] { make_partition(too_many, 1, 10, labels, {}, 10); });
  EXPECT_NE(k.find("partition.classes_per_client = 11 exceeds the data set's 10 classes"), std::string::npos) << k;

  // Impossible on its face: 10 clients x 101 > 1000 samples.
  PartitionConfig big = method("dirichlet");
  big.min_size = 101;
  const std::string size = error_of<ConfigError>([&] { make_partition(big, 1, 10, labels, {}, 10); });
  EXPECT_NE(size.find("partition.min_size = 101 cannot hold"), std::string::npos) << size;
  // Possible in principle, but not within 1000 draws.
  PartitionConfig tight = method("dirichlet");
  tight.alpha = 0.5;
  tight.min_size = 99;
  const std::string tries = error_of<ConfigError>([&] { make_partition(tight, 1, 10, labels, {}, 10); });
  EXPECT_NE(tries.find("partition.min_size = 99 not reached: after 1000 Dirichlet draws"), std::string::npos) << tries;
  EXPECT_TRUE(std::regex_search(tries, std::regex("smallest client had at most [0-9]+ samples"))) << tries;
  EXPECT_NE(tries.find("larger partition.alpha"), std::string::npos) << tries;

  Index bad = labels;
  bad[17] = 10;
  const std::string label = error_of<DataError>([&] { make_partition(method("iid"), 1, 10, bad, {}, 10); });
  EXPECT_NE(label.find("label of sample 17 is 10, outside [0, 10)"), std::string::npos) << label;

  const std::string clients = error_of<ConfigError>([&] { make_partition(method("iid"), 1, 1001, labels, {}, 10); });
  EXPECT_NE(clients.find("run.clients = 1001 exceeds the data set's 1000 samples"), std::string::npos) << clients;
}

TEST(PartitionTable, ColumnsTotalsAndTopClasses) {
  const Index labels = make_labels(1000, 10);
  const Partition p = make_partition(method("iid"), 1, 4, labels, {}, 10);
  const std::string table = format_partition_table(p);
  EXPECT_TRUE(std::regex_search(table, std::regex(R"(client +train +test +0 +1 .* 9\n)"))) << table;
  EXPECT_TRUE(std::regex_search(table, std::regex(R"(\n +total +752 +248 +108 +92 )"))) << table;

  const std::string cut = format_partition_table(p, 2);
  EXPECT_NE(cut.find("... 2 more clients"), std::string::npos) << cut;
  EXPECT_TRUE(std::regex_search(cut, std::regex(R"(\n +total +752 +248 )"))) << cut;  // still every client

  const Index many = make_labels(3000, 30);
  PartitionConfig c = method("pathological");
  c.classes_per_client = 3;
  const Partition wide = make_partition(c, 1, 10, many, {}, 30);
  const std::string top = format_partition_table(wide);
  EXPECT_NE(top.find("top classes"), std::string::npos) << top;
  EXPECT_EQ(top.find(" 29 "), std::string::npos) << top;  // no per-class columns
  EXPECT_TRUE(std::regex_search(top, std::regex(R"(\n +0 +\d+ +\d+  \d+:\d+ \d+:\d+ \d+:\d+\n)"))) << top;
}

using test::TempDir;

// p written by write_partition_h5 into `path` under /partition, reopened for reading.
h5::File written_partition(const Partition& p, const std::string& path) {
  {
    h5::File f = h5::File::open(path, h5::Mode::kCreate);
    h5::Group g = f.create_group("partition");
    write_partition_h5(p, g);
    f.close();
  }
  return h5::File::open(path, h5::Mode::kRead);
}

TEST(PartitionH5, CsrLayoutRoundTrips) {
  TempDir dir;
  const Index labels = make_labels(2000, 10);
  PartitionConfig c = method("dirichlet");
  c.alpha = 0.3;
  const Partition p = make_partition(c, 1, 6, labels, {}, 10);
  h5::File f = written_partition(p, dir / "p.h5");
  const h5::Group g = f.open_group("partition");
  EXPECT_EQ(g.attrs().get_string("method"), "dirichlet");
  EXPECT_EQ(g.attrs().get_int("num_classes"), 10);
  EXPECT_DOUBLE_EQ(g.attrs().get_double("label_skew"), partition_stats(p).label_skew);
  EXPECT_EQ(g.open_dataset("sizes").shape(), (std::vector<int64_t>{6, 2}));
  EXPECT_EQ(g.open_dataset("histogram").shape(), (std::vector<int64_t>{6, 10}));
  const Index sizes = g.open_dataset("sizes").read<int64_t>();
  const Index hist = g.open_dataset("histogram").read<int64_t>();
  // Sample indices and offsets as int32, the narrowest type that holds them (see below for int64).
  const auto widened = [&](const char* name) {
    EXPECT_EQ(g.open_dataset(name).dtype(), h5::DType::kI32) << name;
    const std::vector<int32_t> v = g.open_dataset(name).read<int32_t>();
    return Index(v.begin(), v.end());
  };
  const Index train_off = widened("train_offsets");
  const Index train_idx = widened("train_indices");
  const Index test_off = widened("test_offsets");
  const Index test_idx = widened("test_indices");
  ASSERT_EQ(train_off.size(), 7u);
  ASSERT_EQ(test_off.size(), 7u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(sizes[2 * i], static_cast<int64_t>(p.clients[i].train.size()));
    EXPECT_EQ(sizes[2 * i + 1], static_cast<int64_t>(p.clients[i].test.size()));
    EXPECT_EQ(Index(hist.begin() + 10 * i, hist.begin() + 10 * (i + 1)), p.histogram[i]);
    EXPECT_EQ(Index(train_idx.begin() + train_off[i], train_idx.begin() + train_off[i + 1]), p.clients[i].train);
    EXPECT_EQ(Index(test_idx.begin() + test_off[i], test_idx.begin() + test_off[i + 1]), p.clients[i].test);
  }
}

// A sample index beyond int32 (a data set of more than 2^31 samples) keeps its table int64.
TEST(PartitionH5, IndicesBeyondInt32StayInt64) {
  TempDir dir;
  Partition p;
  p.method = "hand";
  p.num_classes = 1;
  p.clients = {ClientSplit{{0, int64_t{3'000'000'000}}, {7}}};
  p.histogram = {{3}};
  h5::File f = written_partition(p, dir / "p.h5");
  const h5::Group g = f.open_group("partition");
  EXPECT_EQ(g.open_dataset("train_indices").dtype(), h5::DType::kI64);
  EXPECT_EQ(g.open_dataset("train_indices").read<int64_t>(), (Index{0, 3'000'000'000}));
  EXPECT_EQ(g.open_dataset("test_indices").dtype(), h5::DType::kI32);  // each table on its own
  EXPECT_EQ(g.open_dataset("train_offsets").dtype(), h5::DType::kI32);
}

using test::run_fedsaf;

TEST(PartitionCli, DefaultConfigTableMatchesTheFile) {
  TempDir dir;
  const std::string out = (dir / "partition.h5");
  const auto r = run_fedsaf("partition --set run.clients=5 --out " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  std::smatch total;
  ASSERT_TRUE(std::regex_search(r.output, total, std::regex(R"(\n +total +(\d+) +(\d+) )"))) << r.output;
  EXPECT_NE(r.output.find("\nclients      5\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("partition    natural"), std::string::npos) << r.output;

  h5::File f = h5::File::open(out, h5::Mode::kRead);
  EXPECT_EQ(f.attrs().get_int("seed"), 1);
  EXPECT_NE(f.attrs().get_string("config").find("clients = 5"), std::string::npos);
  const h5::Group g = f.open_group("partition");
  ASSERT_EQ(g.open_dataset("sizes").shape(), (std::vector<int64_t>{5, 2}));
  const Index sizes = g.open_dataset("sizes").read<int64_t>();
  int64_t train = 0, test = 0;
  for (size_t i = 0; i < 5; ++i) train += sizes[2 * i], test += sizes[2 * i + 1];
  EXPECT_EQ(train, std::stoll(total[1].str()));
  EXPECT_EQ(test, std::stoll(total[2].str()));
  EXPECT_FALSE(std::filesystem::exists(out + ".partial"));
}

TEST(PartitionCli, BadRequestFailsWithOneLine) {
  TempDir dir;
  const std::string out = (dir / "never.h5");
  const auto r =
      run_fedsaf("partition --set partition.method=pathological --set partition.classes_per_client=99 --out " + out);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("fedsaf: error: partition.classes_per_client = 99 exceeds"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(out));
}

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// --out never replaces a file without --force, never the data set it reads even with it, never a
// folder or a FIFO, and never truncates a .partial left by another run.
TEST(PartitionCli, OutNeverDestroysAFileItDidNotWrite) {
  TempDir dir;
  const std::string out = (dir / "partition.h5");
  std::ofstream(out) << "somebody's file";
  const auto refused = run_fedsaf("partition --set run.clients=5 --out " + out);
  EXPECT_EQ(refused.status, 1) << refused.output;
  EXPECT_NE(refused.output.find(out + ": already exists (pass --force to overwrite it, or choose another --out)"),
            std::string::npos) << refused.output;
  EXPECT_EQ(refused.output.find("clients      5"), std::string::npos) << "refused before the work";
  EXPECT_EQ(file_text(out), "somebody's file");

  // A .partial left by another run (still going, or killed) is never truncated without --force.
  std::filesystem::remove(out);
  std::ofstream(out + ".partial") << "another run's partial file";
  const auto busy = run_fedsaf("partition --set run.clients=5 --out " + out);
  EXPECT_EQ(busy.status, 1) << busy.output;
  EXPECT_NE(busy.output.find(out + ".partial: exists, left by another run of this command"), std::string::npos) << busy.output;
  EXPECT_EQ(file_text(out + ".partial"), "another run's partial file");
  EXPECT_FALSE(std::filesystem::exists(out));
  ASSERT_EQ(run_fedsaf("partition --set run.clients=5 --out " + out + " --force").status, 0);
  EXPECT_FALSE(std::filesystem::exists(out + ".partial"));
  EXPECT_EQ(h5::File::open(out, h5::Mode::kRead).open_group("partition").open_dataset("sizes").shape(),
            (std::vector<int64_t>{5, 2}));

  // The data set being read: refused even with --force.
  const auto input = run_fedsaf("partition --set data.dataset=hdf5 --set data.path=" + out + " --out " + out + " --force");
  EXPECT_EQ(input.status, 1) << input.output;
  EXPECT_NE(input.output.find(out + ": is the data set being read (data.path = " + out + ")"), std::string::npos)
      << input.output;
  const auto folder = run_fedsaf("partition --out " + dir.path.string() + " --force");
  EXPECT_EQ(folder.status, 1) << folder.output;
  EXPECT_NE(folder.output.find(dir.path.string() + ": is a folder, not a file name; choose another --out"), std::string::npos)
      << folder.output;
  const std::string fifo = dir / "fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const auto pipe = run_fedsaf("partition --out " + fifo + " --force");
  EXPECT_EQ(pipe.status, 1) << pipe.output;
  EXPECT_NE(pipe.output.find(fifo + ": is not a regular file (a FIFO, socket or device)"), std::string::npos) << pipe.output;
}

}  // namespace
}  // namespace fedsaf
