// Dataset and load_dataset(): dispatch on data.dataset, required paths, normalisation modes and
// what batch() returns (exact values at the ends of the uint8 range, shapes, dtypes, order).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "core/errors.hpp"
#include "data/dataset.hpp"

#include "tests/common/test_support.hpp"

namespace fedsaf {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

using test::TempDir;

void write(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

Bytes idx(const std::vector<uint32_t>& dims, const Bytes& payload) {
  Bytes b = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>(d >> shift));
  }
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

// An MNIST-style folder: train = 2 images of 2×2 {0, 255, 51, 204} and {255, 0, 128, 1},
// test = 1 image {10, 20, 30, 40}; labels 1, 2, 3.
void write_mnist(const TempDir& t) {
  write(t / "train-images-idx3-ubyte", idx({2, 2, 2}, {0, 255, 51, 204, 255, 0, 128, 1}));
  write(t / "train-labels-idx1-ubyte", idx({2}, {1, 2}));
  write(t / "t10k-images-idx3-ubyte", idx({1, 2, 2}, {10, 20, 30, 40}));
  write(t / "t10k-labels-idx1-ubyte", idx({1}, {3}));
}

Config config_for(const std::string& dataset, const std::string& path, const std::string& normalize = "auto") {
  Config c;
  c.source = "test.toml";
  c.data.dataset = dataset;
  c.data.path = path;
  c.data.normalize = normalize;
  return c;
}

torch::Tensor all(const Dataset& d) { return torch::arange(d.size(), torch::kInt64); }  // [N]

std::string config_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected ConfigError, got: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected ConfigError, nothing thrown";
  return "";
}

TEST(Dataset, SymmetricMapsZeroToMinusOneAnd255ToOneExactly) {
  TempDir t;
  write_mnist(t);
  const Dataset d = load_dataset(config_for("mnist", t.path.string()));  // auto = symmetric for uint8
  EXPECT_EQ(d.scale, 1.0 / 255.0);
  EXPECT_EQ(d.mean, std::vector<double>{0.5});
  EXPECT_EQ(d.std, std::vector<double>{0.5});
  const torch::Tensor b = d.batch(torch::tensor({0, 1}, torch::kInt64));  // [2, 1, 2, 2]
  EXPECT_EQ(b.scalar_type(), torch::kFloat32);
  ASSERT_EQ(b.sizes(), (std::vector<int64_t>{2, 1, 2, 2}));
  const torch::Tensor v = b.flatten();  // [8]
  EXPECT_EQ(v[0].item<float>(), -1.0f);
  EXPECT_EQ(v[1].item<float>(), 1.0f);
  EXPECT_EQ(v[4].item<float>(), 1.0f);
  EXPECT_EQ(v[5].item<float>(), -1.0f);
  EXPECT_NEAR(v[2].item<float>(), 51.0 / 255 * 2 - 1, 1e-6);  // -0.6
  EXPECT_NEAR(v[6].item<float>(), 128.0 / 255 * 2 - 1, 1e-6);
  EXPECT_EQ(d.labels(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_TRUE(d.groups().empty());
  // Indices pick rows in the order given, the test image after the train images.
  const torch::Tensor picked = d.batch(torch::tensor({2, 0}, torch::kInt64)).flatten();  // [8]
  EXPECT_NEAR(picked[0].item<float>(), 10.0 / 255 * 2 - 1, 1e-6);
  EXPECT_EQ(picked[4].item<float>(), -1.0f);
  // The data set itself is left as uint8.
  EXPECT_EQ(d.x.scalar_type(), torch::kUInt8);
}

TEST(Dataset, UnitAndNone) {
  TempDir t;
  write_mnist(t);
  const Dataset u = load_dataset(config_for("mnist", t.path.string(), "unit"));
  const torch::Tensor bu = u.batch(all(u)).flatten();  // [12]
  EXPECT_EQ(bu[0].item<float>(), 0.0f);
  EXPECT_EQ(bu[1].item<float>(), 1.0f);
  EXPECT_NEAR(bu[2].item<float>(), 0.2f, 1e-7);
  const Dataset n = load_dataset(config_for("mnist", t.path.string(), "none"));
  const torch::Tensor bn = n.batch(all(n));  // [3, 1, 2, 2]
  EXPECT_TRUE(torch::equal(bn, n.x.to(torch::kFloat32)));
}

TEST(Dataset, StandardIsPerChannelOverTheWholeSet) {
  // Three channels with very different statistics: each comes out with mean 0 and std 1.
  TempDir t;
  Bytes file;
  for (int r = 0; r < 40; ++r) {
    file.push_back(static_cast<uint8_t>(r % 10));
    for (int c = 0; c < 3; ++c) {
      for (int i = 0; i < 1024; ++i) {
        const int v = c == 0 ? (i + r) % 256 : c == 1 ? 200 + (i * r) % 50 : (i % 2) * 30;
        file.push_back(static_cast<uint8_t>(v));
      }
    }
  }
  write(t / "data_batch_1.bin", file);
  const Dataset d = load_dataset(config_for("cifar10", t.path.string(), "standard"));
  ASSERT_EQ(d.mean.size(), 3u);
  ASSERT_EQ(d.std.size(), 3u);
  const torch::Tensor x = d.x.to(torch::kFloat64) / 255.0;  // [40, 3, 32, 32]
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(d.mean[c], x.select(1, c).mean().item<double>(), 1e-12) << "channel " << c;
    EXPECT_NEAR(d.std[c], x.select(1, c).std(/*unbiased=*/false).item<double>(), 1e-12) << "channel " << c;
  }
  EXPECT_NEAR(d.std[2], 15.0 / 255, 1e-12);  // {0, 30} half each
  const torch::Tensor b = d.batch(all(d)).to(torch::kFloat64);  // [40, 3, 32, 32]
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(b.select(1, c).mean().item<double>(), 0.0, 1e-5) << "channel " << c;
    EXPECT_NEAR(b.select(1, c).std(false).item<double>(), 1.0, 1e-5) << "channel " << c;
  }
}

TEST(Dataset, SyntheticThroughLoadDataset) {
  Config c = config_for("synthetic", "");
  c.run.clients = 4;
  c.run.seed = 9;
  const Dataset d = load_dataset(c);  // auto = none for float data
  EXPECT_EQ(d.sample_shape(), (std::vector<int64_t>{60}));
  EXPECT_EQ(d.scale, 1.0);
  const torch::Tensor idx = torch::tensor({5, 0, 3}, torch::kInt64);  // [3]
  const torch::Tensor b = d.batch(idx);                                // [3, 60]
  ASSERT_EQ(b.sizes(), (std::vector<int64_t>{3, 60}));
  EXPECT_TRUE(torch::equal(b, d.x.index_select(0, idx)));
  const auto labels = d.labels();
  const auto groups = d.groups();
  ASSERT_EQ(static_cast<int64_t>(labels.size()), d.size());
  ASSERT_EQ(static_cast<int64_t>(groups.size()), d.size());
  EXPECT_EQ(labels[7], d.y[7].item<int64_t>());
  EXPECT_EQ(groups.back(), 3);
  // standard on float data: one mean/std over all features.
  c.data.normalize = "standard";
  const Dataset s = load_dataset(c);
  ASSERT_EQ(s.mean.size(), 1u);
  const torch::Tensor bs = s.batch(all(s)).to(torch::kFloat64);  // [N, 60]
  EXPECT_NEAR(bs.mean().item<double>(), 0.0, 1e-5);
  EXPECT_NEAR(bs.std(false).item<double>(), 1.0, 1e-5);
}

// Without data.path, CIFAR-10 is read from $FEDSAF_DATA/cifar-10-batches-bin; when that folder is
// missing the error says where it looked and how to get the data.
TEST(Dataset, Cifar10DefaultsToTheDataRootAndSaysHowToGetIt) {
  TempDir t;
  ASSERT_EQ(setenv("FEDSAF_DATA", t.path.c_str(), 1), 0);
  std::string msg;
  try {
    load_dataset(config_for("cifar10", ""));
  } catch (const DataError& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("test.toml: data.path is empty and the default CIFAR-10 folder " + (t / "cifar-10-batches-bin") +
                     " does not exist: download the binary version"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("https://www.cs.toronto.edu/~kriz/cifar.html"), std::string::npos) << msg;
  std::filesystem::create_directories(t / "cifar-10-batches-bin");
  Bytes batch(2 * 3073, 7);  // two records: label 7, every pixel 7
  write(t / "cifar-10-batches-bin/data_batch_1.bin", batch);
  EXPECT_EQ(load_dataset(config_for("cifar10", "")).size(), 2);
  unsetenv("FEDSAF_DATA");
}

TEST(Dataset, PathRequiredAndBadNames) {
  for (const char* ds : {"mnist", "hdf5"}) {
    const std::string msg = config_error([&] { load_dataset(config_for(ds, "")); });
    EXPECT_NE(msg.find("test.toml"), std::string::npos) << msg;
    EXPECT_NE(msg.find("data.path must be set"), std::string::npos) << msg;
    EXPECT_NE(msg.find(ds), std::string::npos) << msg;
  }
  EXPECT_NE(config_error([&] { load_dataset(config_for("imagenet", "")); }).find("\"imagenet\" is not one of"),
            std::string::npos);
  TempDir t;
  write_mnist(t);
  EXPECT_NE(config_error([&] { load_dataset(config_for("mnist", t.path.string(), "zscore")); }).find("zscore"),
            std::string::npos);
  // A folder that does not exist is a data error naming it.
  EXPECT_THROW(load_dataset(config_for("mnist", t / "absent")), DataError);
}

TEST(Dataset, FashionMnistDefaultPath) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "/usr/share/datasets/fashion-mnist is absent (apt package dataset-fashion-mnist)";
  }
  const Dataset d = load_dataset(config_for("fashionmnist", ""));
  EXPECT_EQ(d.size(), 70000);
  EXPECT_EQ(d.name, "fashionmnist");
  const torch::Tensor b = d.batch(torch::arange(64, torch::kInt64));  // [64, 1, 28, 28]
  ASSERT_EQ(b.sizes(), (std::vector<int64_t>{64, 1, 28, 28}));
  EXPECT_GE(b.min().item<float>(), -1.0f);
  EXPECT_LE(b.max().item<float>(), 1.0f);
  EXPECT_EQ(b.min().item<float>(), -1.0f);  // background pixels are 0
}

}  // namespace
}  // namespace fedsaf
