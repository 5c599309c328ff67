// CIFAR-10 binary reader: small batch files written here and read back exactly (file order,
// class names), each kind of damage as a DataError naming the file, and the real 20k subset in
// /work/shared/data/cifar-10-batches-bin.
#include <gtest/gtest.h>
#include <sys/stat.h>  // mkfifo
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>

#include "core/errors.hpp"
#include "data/readers.hpp"

#include "tests/common/test_support.hpp"
#include "tests/data/data_test_support.hpp"

namespace fedsaf {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;
constexpr size_t kRecord = 3073;

using test::TempDir;

// Records whose pixels encode (seed, position) and whose labels are given.
Bytes records(const Bytes& labels, int seed) {
  Bytes b;
  for (size_t r = 0; r < labels.size(); ++r) {
    b.push_back(labels[r]);
    for (size_t i = 0; i < kRecord - 1; ++i) b.push_back(static_cast<uint8_t>((i * 7 + r * 13 + seed * 101) % 251));
  }
  return b;
}

void write(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

Bytes read_all(const std::string& path) {
  Bytes b(fs::file_size(path));
  std::ifstream(path, std::ios::binary).read(reinterpret_cast<char*>(b.data()), static_cast<std::streamsize>(b.size()));
  return b;
}

// Sample i of d equals the record at byte offset `at` of `bytes`.
void expect_record(const Dataset& d, int64_t i, const Bytes& bytes, size_t at) {
  EXPECT_EQ(d.y[i].item<int64_t>(), bytes[at]) << "sample " << i;
  const torch::Tensor want =
      torch::from_blob(const_cast<uint8_t*>(bytes.data() + at + 1), {3, 32, 32}, torch::kUInt8);  // [3, 32, 32]
  EXPECT_TRUE(torch::equal(d.x[i], want)) << "sample " << i;
}

using test::data_error;
using test::expect_contains;

TEST(Cifar10, DefaultFilesInNumericOrderThenTest) {
  TempDir t;
  const Bytes b1 = records({0, 9, 4}, 1), b2 = records({2, 2}, 2), b10 = records({7}, 10), test = records({5, 1}, 99);
  write(t / "data_batch_1.bin", b1);
  write(t / "data_batch_10.bin", b10);
  write(t / "data_batch_2.bin", b2);
  write(t / "test_batch.bin", test);
  write(t / "readme.html", Bytes{1, 2, 3});  // not a batch: ignored
  const Dataset d = read_cifar10(t.path.string(), {});
  ASSERT_EQ(d.x.sizes(), (std::vector<int64_t>{8, 3, 32, 32}));
  EXPECT_EQ(d.x.scalar_type(), torch::kUInt8);
  EXPECT_EQ(d.labels(), (std::vector<int64_t>{0, 9, 4, 2, 2, 7, 5, 1}));
  for (int r = 0; r < 3; ++r) expect_record(d, r, b1, r * kRecord);
  for (int r = 0; r < 2; ++r) expect_record(d, 3 + r, b2, r * kRecord);
  expect_record(d, 5, b10, 0);
  for (int r = 0; r < 2; ++r) expect_record(d, 6 + r, test, r * kRecord);
  EXPECT_EQ(d.num_classes, 10);
  ASSERT_EQ(d.class_names.size(), 10u);
  EXPECT_EQ(d.class_names[0], "airplane");
  EXPECT_EQ(d.class_names[9], "truck");
  EXPECT_EQ(d.name, "cifar10");
}

TEST(Cifar10, ExplicitFilesAndMetaNames) {
  TempDir t;
  const Bytes b1 = records({3}, 1), test = records({8, 6}, 2);
  write(t / "data_batch_1.bin", b1);
  write(t / "test_batch.bin", test);
  std::ofstream(t / "batches.meta.txt") << "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n";
  const Dataset d = read_cifar10(t.path.string(), {"test_batch.bin"});
  EXPECT_EQ(d.labels(), (std::vector<int64_t>{8, 6}));
  expect_record(d, 1, test, kRecord);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}));
  // A meta file that does not list 10 names is an error naming it.
  std::ofstream(t / "batches.meta.txt") << "a\nb\n";
  expect_contains(data_error([&] { read_cifar10(t.path.string(), {}); }),
                  {t / "batches.meta.txt", "expected 10 class names", "found 2"});
}

TEST(Cifar10, TruncatedFileNamed) {
  TempDir t;
  Bytes b = records({1, 2}, 1);
  b.resize(b.size() - 5);
  write(t / "data_batch_1.bin", b);
  expect_contains(data_error([&] { read_cifar10(t.path.string(), {}); }),
                  {t / "data_batch_1.bin", "truncated/corrupt: size 6141 is not a multiple of 3073"});
  write(t / "data_batch_1.bin", Bytes{});
  expect_contains(data_error([&] { read_cifar10(t.path.string(), {}); }), {t / "data_batch_1.bin", "empty"});
}

TEST(Cifar10, LabelOutOfRange) {
  TempDir t;
  write(t / "data_batch_1.bin", records({1, 10, 2}, 1));
  expect_contains(data_error([&] { read_cifar10(t.path.string(), {}); }),
                  {t / "data_batch_1.bin", "record 1: label 10 is out of range [0, 10)"});
}

TEST(Cifar10, MissingFilesNamed) {
  TempDir t;
  expect_contains(data_error([&] { read_cifar10(t.path.string(), {}); }),
                  {t.path.string(), "no CIFAR-10 batch files"});
  write(t / "data_batch_1.bin", records({1}, 1));
  expect_contains(data_error([&] { read_cifar10(t.path.string(), {"data_batch_1.bin", "data_batch_2.bin"}); }),
                  {t / "data_batch_2.bin", "file not found"});
  expect_contains(data_error([&] { read_cifar10(t / "absent", {}); }), {t / "absent", "folder not found"});
  expect_contains(data_error([&] { read_cifar10(t / "data_batch_1.bin", {}); }),
                  {t / "data_batch_1.bin", "is not a folder"});
}

// A folder or a FIFO where a batch file (or batches.meta.txt) is expected is named as such, and the
// FIFO is never opened (opening it would block forever).
TEST(Cifar10, FoldersAndFifosAreNamedNotRead) {
  TempDir t;
  write(t / "data_batch_1.bin", records({1}, 1));
  fs::create_directory(t / "data_batch_2.bin");
  expect_contains(data_error([&] { read_cifar10(t.path.string(), {}); }),
                  {t / "data_batch_2.bin", "is a folder, expected a CIFAR-10 batch file"});
  fs::remove(t / "data_batch_2.bin");
  ASSERT_EQ(mkfifo((t / "test_batch.bin").c_str(), 0600), 0);
  expect_contains(data_error([&] { read_cifar10(t.path.string(), {}); }),
                  {t / "test_batch.bin", "not a regular file (a FIFO"});
  fs::remove(t / "test_batch.bin");
  ASSERT_EQ(mkfifo((t / "batches.meta.txt").c_str(), 0600), 0);
  expect_contains(data_error([&] { read_cifar10(t.path.string(), {}); }),
                  {t / "batches.meta.txt", "not a regular file (a FIFO"});
}

TEST(Cifar10, RealSubset) {
  const std::string dir = "/work/shared/data/cifar-10-batches-bin";
  if (!fs::exists(dir + "/data_batch_1.bin") || !fs::exists(dir + "/test_batch.bin")) {
    GTEST_SKIP() << dir << " is absent (the shared CIFAR-10 subset)";
  }
  const auto t0 = std::chrono::steady_clock::now();
  const Dataset d = read_cifar10(dir, {});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "[ timing   ] CIFAR-10 (20000 images) loaded in " << seconds << " s\n";
  ASSERT_EQ(d.x.sizes(), (std::vector<int64_t>{20000, 3, 32, 32}));
  const torch::Tensor per_class = torch::bincount(d.y, {}, 10);  // [10]
  for (int c = 0; c < 10; ++c) EXPECT_EQ(per_class[c].item<int64_t>(), 2000) << "class " << c;
  const Bytes train = read_all(dir + "/data_batch_1.bin"), test = read_all(dir + "/test_batch.bin");
  expect_record(d, 0, train, 0);
  expect_record(d, 9999, train, 9999 * kRecord);
  expect_record(d, 10000, test, 0);
  expect_record(d, 19999, test, 9999 * kRecord);
  EXPECT_EQ(d.class_names[0], "airplane");
  EXPECT_EQ(d.class_names[9], "truck");

  // A truncated copy fails and names the copy.
  TempDir t;
  write(t / "data_batch_1.bin", Bytes(train.begin(), train.begin() + 100 * kRecord + 17));
  expect_contains(data_error([&] { read_cifar10(t.path.string(), {}); }),
                  {t / "data_batch_1.bin", "is not a multiple of 3073"});
}

}  // namespace
}  // namespace fedsaf
