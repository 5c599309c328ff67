// IDX reader: tiny raw and gzipped files written here and read back exactly, one test per kind
// of damage (each must give a DataError naming the file and the problem), and the real
// FashionMNIST from Debian's dataset-fashion-mnist.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <zlib.h>

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

using test::TempDir;

// An IDX file: magic 0x0000 TT DD, big-endian dims, payload.
Bytes idx_bytes(uint8_t type, const std::vector<uint32_t>& dims, const Bytes& payload) {
  Bytes b = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>(d >> shift));
  }
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

void write_raw(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

void write_gz(const std::string& path, const Bytes& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

// n images of h×w with distinct, known pixel values.
Bytes pixels(int n, int h, int w) {
  Bytes p(static_cast<size_t>(n * h * w));
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
  return p;
}

Bytes images_file(int n, int h, int w) {
  return idx_bytes(0x08, {uint32_t(n), uint32_t(h), uint32_t(w)}, pixels(n, h, w));
}
Bytes labels_file(const Bytes& labels) { return idx_bytes(0x08, {uint32_t(labels.size())}, labels); }

using test::data_error;
using test::expect_contains;

void expect_exact(const Dataset& d, int n, int h, int w, const Bytes& labels) {
  ASSERT_EQ(d.x.sizes(), (std::vector<int64_t>{n, 1, h, w}));
  EXPECT_EQ(d.x.scalar_type(), torch::kUInt8);
  const Bytes px = pixels(n, h, w);
  const torch::Tensor want = torch::from_blob(const_cast<uint8_t*>(px.data()), {n, 1, h, w}, torch::kUInt8);
  EXPECT_TRUE(torch::equal(d.x, want));
  ASSERT_EQ(d.labels().size(), labels.size());
  for (size_t i = 0; i < labels.size(); ++i) EXPECT_EQ(d.labels()[i], labels[i]) << i;
  EXPECT_EQ(d.num_classes, 10);
}

TEST(Idx, RawFilesReadBackExactly) {
  TempDir t;
  const Bytes labels = {3, 0, 9};
  write_raw(t / "img", images_file(3, 4, 5));
  write_raw(t / "lbl", labels_file(labels));
  const Dataset d = read_idx_pair(t / "img", t / "lbl");
  expect_exact(d, 3, 4, 5, labels);
  EXPECT_EQ(d.sample_shape(), (std::vector<int64_t>{1, 4, 5}));
  ASSERT_EQ(d.class_names.size(), 10u);
}

TEST(Idx, GzippedFilesReadBackExactly) {
  TempDir t;
  const Bytes labels = {1, 2, 3, 4, 5, 6, 7};
  write_gz(t / "img.gz", images_file(7, 28, 28));
  write_gz(t / "lbl.gz", labels_file(labels));
  // Make sure the files really are gzip (1f 8b), not raw bytes zlib passed through.
  std::ifstream in(t / "img.gz", std::ios::binary);
  unsigned char m[2];
  in.read(reinterpret_cast<char*>(m), 2);
  ASSERT_EQ(m[0], 0x1f);
  ASSERT_EQ(m[1], 0x8b);
  expect_exact(read_idx_pair(t / "img.gz", t / "lbl.gz"), 7, 28, 28, labels);
}

TEST(Idx, FolderConcatenatesTrainThenTest) {
  TempDir t;
  // train raw, test gzipped: both forms are found.
  const Bytes train = {5, 6, 7, 8}, test = {1, 9};
  write_raw(t / "train-images-idx3-ubyte", images_file(4, 3, 2));
  write_raw(t / "train-labels-idx1-ubyte", labels_file(train));
  Bytes test_px = idx_bytes(0x08, {2, 3, 2}, Bytes{10, 11, 12, 13, 14, 15, 20, 21, 22, 23, 24, 25});
  write_gz(t / "t10k-images-idx3-ubyte.gz", test_px);
  write_gz(t / "t10k-labels-idx1-ubyte.gz", labels_file(test));
  const Dataset d = read_idx_folder(t.path.string(), "mnist");
  ASSERT_EQ(d.x.sizes(), (std::vector<int64_t>{6, 1, 3, 2}));
  EXPECT_EQ(d.labels(), (std::vector<int64_t>{5, 6, 7, 8, 1, 9}));
  const Bytes px = pixels(4, 3, 2);
  EXPECT_EQ(d.x[0].flatten()[0].item<int>(), px[0]);
  EXPECT_EQ(d.x[3].flatten()[5].item<int>(), px[23]);
  EXPECT_EQ(d.x[4].flatten()[0].item<int>(), 10);
  EXPECT_EQ(d.x[5].flatten()[5].item<int>(), 25);
  EXPECT_EQ(d.name, "mnist");
  EXPECT_EQ(d.class_names[9], "9");
  const Dataset f = read_idx_folder(t.path.string(), "fashionmnist");
  EXPECT_EQ(f.class_names[0], "T-shirt/top");
  EXPECT_EQ(f.class_names[9], "Ankle boot");
}

TEST(Idx, BadMagic) {
  TempDir t;
  write_raw(t / "img", labels_file({1, 2}));  // a label file where images belong
  write_raw(t / "lbl", labels_file({1, 2}));
  expect_contains(data_error([&] { read_idx_pair(t / "img", t / "lbl"); }),
                  {t / "img", "bad magic 0x00000801", "expected 0x00000803"});
  Bytes garbage = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '!', 0, 0, 0, 0};
  write_raw(t / "img", garbage);
  expect_contains(data_error([&] { read_idx_pair(t / "img", t / "lbl"); }), {t / "img", "bad magic", "not an IDX"});
}

TEST(Idx, DataTypeNotUbyte) {
  TempDir t;
  Bytes floats = idx_bytes(0x0D, {1, 2, 2}, Bytes(16, 0));  // float32 IDX
  write_raw(t / "img", floats);
  write_raw(t / "lbl", labels_file({1}));
  expect_contains(data_error([&] { read_idx_pair(t / "img", t / "lbl"); }), {t / "img", "0x0d is not ubyte"});
}

TEST(Idx, TruncatedRawAndGzipped) {
  TempDir t;
  Bytes img = images_file(3, 4, 5);  // 16 + 60 bytes
  img.resize(img.size() - 7);
  write_raw(t / "img", img);
  write_raw(t / "lbl", labels_file({1, 2, 3}));
  expect_contains(data_error([&] { read_idx_pair(t / "img", t / "lbl"); }),
                  {t / "img", "truncated", "needs 76 bytes, file has 69"});
  write_gz(t / "img.gz", img);
  expect_contains(data_error([&] { read_idx_pair(t / "img.gz", t / "lbl"); }),
                  {t / "img.gz", "truncated", "needs 76 bytes, file has 69 (after gunzip)"});
  // A header cut short.
  write_raw(t / "short", Bytes{0, 0, 8, 3, 0, 0});
  expect_contains(data_error([&] { read_idx_pair(t / "short", t / "lbl"); }), {t / "short", "truncated"});
  // A gzip stream cut in the middle.
  write_gz(t / "whole.gz", images_file(50, 28, 28));
  Bytes gz(fs::file_size(t / "whole.gz"));
  std::ifstream(t / "whole.gz", std::ios::binary).read(reinterpret_cast<char*>(gz.data()), gz.size());
  gz.resize(gz.size() / 2);
  write_raw(t / "cut.gz", gz);
  expect_contains(data_error([&] { read_idx_pair(t / "cut.gz", t / "lbl"); }), {t / "cut.gz", "truncated"});
}

// A header claiming far more than the file holds (600M images in a 1 KB file) is refused from the
// file's size, before the payload is allocated: raw by exact size, gzip by deflate's ratio bound.
TEST(Idx, AHeaderClaimingMoreThanTheFileHoldsIsRefusedBeforeAllocating) {
  TempDir t;
  Bytes huge = idx_bytes(0x08, {600'000'000u, 28u, 28u}, pixels(1, 28, 28));  // 16 + 784 bytes
  write_raw(t / "img", huge);
  write_raw(t / "lbl", labels_file({1}));
  expect_contains(data_error([&] { read_idx_pair(t / "img", t / "lbl"); }),
                  {t / "img", "truncated: header [600000000, 28, 28] needs 470400000016 bytes, file has 800"});
  write_gz(t / "img.gz", huge);
  expect_contains(data_error([&] { read_idx_pair(t / "img.gz", t / "lbl"); }),
                  {t / "img.gz", "header [600000000, 28, 28] needs 470400000016 bytes, more than a gzip file of"});
}

TEST(Idx, TrailingGarbage) {
  TempDir t;
  Bytes lbl = labels_file({1, 2, 3});
  lbl.push_back(0);
  lbl.push_back(0);
  write_raw(t / "img", images_file(3, 4, 5));
  write_raw(t / "lbl", lbl);
  expect_contains(data_error([&] { read_idx_pair(t / "img", t / "lbl"); }),
                  {t / "lbl", "trailing data", "needs 11 bytes, file has 13"});
}

TEST(Idx, CountMismatchNamesBothFiles) {
  TempDir t;
  write_raw(t / "img", images_file(3, 4, 5));
  write_raw(t / "lbl", labels_file({1, 2}));
  expect_contains(data_error([&] { read_idx_pair(t / "img", t / "lbl"); }),
                  {t / "img", "has 3 images", t / "lbl", "has 2 labels"});
}

TEST(Idx, LabelOutOfRange) {
  TempDir t;
  write_raw(t / "img", images_file(3, 4, 5));
  write_gz(t / "lbl.gz", labels_file({1, 10, 2}));
  expect_contains(data_error([&] { read_idx_pair(t / "img", t / "lbl.gz"); }),
                  {t / "lbl.gz", "label 10 at index 1 is out of range [0, 10)"});
}

TEST(Idx, MissingFiles) {
  TempDir t;
  write_raw(t / "img", images_file(1, 2, 2));
  expect_contains(data_error([&] { read_idx_pair(t / "img", t / "nope"); }), {t / "nope", "file not found"});
  write_raw(t / "train-images-idx3-ubyte", images_file(1, 2, 2));
  write_raw(t / "train-labels-idx1-ubyte", labels_file({1}));
  write_raw(t / "t10k-images-idx3-ubyte", images_file(1, 2, 2));
  expect_contains(data_error([&] { read_idx_folder(t.path.string(), "mnist"); }),
                  {t.path.string(), "missing t10k-labels-idx1-ubyte"});
  expect_contains(data_error([&] { read_idx_folder(t / "absent", "mnist"); }), {t / "absent", "folder not found"});
}

TEST(Idx, RealFashionMnist) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << dir << " is absent (apt package dataset-fashion-mnist)";
  }
  const auto t0 = std::chrono::steady_clock::now();
  const Dataset d = read_idx_folder(dir, "fashionmnist");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "[ timing   ] FashionMNIST (70000 images, gzip) loaded in " << seconds << " s\n";
  ASSERT_EQ(d.x.sizes(), (std::vector<int64_t>{70000, 1, 28, 28}));
  EXPECT_EQ(d.sample_shape(), (std::vector<int64_t>{1, 28, 28}));
  const torch::Tensor per_class = torch::bincount(d.y, {}, 10);  // [10]
  for (int c = 0; c < 10; ++c) EXPECT_EQ(per_class[c].item<int64_t>(), 7000) << "class " << c;
  // Known facts of the set: the first training and first test image are ankle boots (9), and
  // the mean pixel is 0.286 of full scale.
  EXPECT_EQ(d.y[0].item<int64_t>(), 9);
  EXPECT_EQ(d.y[60000].item<int64_t>(), 9);
  EXPECT_NEAR(d.x.to(torch::kFloat64).mean().item<double>() / 255.0, 0.286, 0.003);
  EXPECT_EQ(d.class_names[0], "T-shirt/top");
}

}  // namespace
}  // namespace fedsaf
