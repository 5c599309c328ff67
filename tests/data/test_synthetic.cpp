// FedProx Synthetic(alpha, beta): determinism per (seed, client), sample counts, labels, and the
// input covariance diag(j^-1.2) measured on generated data.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"
#include "data/readers.hpp"

namespace fedsaf {
namespace {

// Per-client sample counts, from the group column.
std::vector<int64_t> counts_per_client(const Dataset& d, int64_t clients) {
  const torch::Tensor c = torch::bincount(d.group, {}, clients);  // [clients]
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + clients);
}

TEST(Synthetic, ShapesTypesAndLabels) {
  SyntheticConfig c;
  c.features = 12;
  c.classes = 7;
  const Dataset d = make_synthetic(c, 6, 42);
  EXPECT_EQ(d.name, "synthetic");
  ASSERT_EQ(d.x.dim(), 2);
  EXPECT_EQ(d.x.size(1), 12);
  EXPECT_EQ(d.x.scalar_type(), torch::kFloat32);
  EXPECT_EQ(d.y.scalar_type(), torch::kInt64);
  EXPECT_EQ(d.group.scalar_type(), torch::kInt64);
  EXPECT_EQ(d.y.size(0), d.x.size(0));
  EXPECT_EQ(d.group.size(0), d.x.size(0));
  EXPECT_EQ(d.num_classes, 7);
  ASSERT_EQ(d.class_names.size(), 7u);
  EXPECT_EQ(d.class_names[0], "0");
  EXPECT_EQ(d.class_names[6], "6");
  EXPECT_GE(d.y.min().item<int64_t>(), 0);
  EXPECT_LT(d.y.max().item<int64_t>(), 7);
  // Rows are grouped by client, in client order.
  const auto g = d.groups();
  EXPECT_TRUE(std::is_sorted(g.begin(), g.end()));
  EXPECT_EQ(g.front(), 0);
  EXPECT_EQ(g.back(), 5);
  EXPECT_TRUE(torch::isfinite(d.x).all().item<bool>());
  // The labels come from a model, not a constant: several classes occur.
  EXPECT_GE(std::get<0>(torch::_unique(d.y)).numel(), 3);
}

TEST(Synthetic, SameSeedSameDataOtherSeedOtherData) {
  SyntheticConfig c;
  const Dataset a = make_synthetic(c, 8, 7);
  const Dataset b = make_synthetic(c, 8, 7);
  EXPECT_TRUE(torch::equal(a.x, b.x));
  EXPECT_TRUE(torch::equal(a.y, b.y));
  EXPECT_TRUE(torch::equal(a.group, b.group));
  const Dataset o = make_synthetic(c, 8, 8);
  // Another seed: other sizes, and the first client's first sample differs.
  EXPECT_FALSE(o.size() == a.size() && torch::equal(o.x, a.x));
  EXPECT_FALSE(torch::equal(o.x[0], a.x[0]));
}

TEST(Synthetic, ClientDataIndependentOfClientCount) {
  SyntheticConfig c;
  const Dataset five = make_synthetic(c, 5, 123);
  const Dataset ten = make_synthetic(c, 10, 123);
  const auto n5 = counts_per_client(five, 5), n10 = counts_per_client(ten, 10);
  for (int k = 0; k < 5; ++k) EXPECT_EQ(n5[k], n10[k]) << "client " << k;
  const int64_t n = five.size();
  ASSERT_GT(ten.size(), n);
  EXPECT_TRUE(torch::equal(five.x, ten.x.slice(0, 0, n)));
  EXPECT_TRUE(torch::equal(five.y, ten.y.slice(0, 0, n)));
  EXPECT_TRUE(torch::equal(five.group, ten.group.slice(0, 0, n)));
}

TEST(Synthetic, SampleCountsLognormalWithinBounds) {
  SyntheticConfig c;  // min 50, max 1000, lognormal(4, 2)
  const int64_t clients = 300;
  const Dataset d = make_synthetic(c, clients, 5);
  auto n = counts_per_client(d, clients);
  for (int64_t k = 0; k < clients; ++k) {
    EXPECT_GE(n[k], c.min_samples) << "client " << k;
    EXPECT_LE(n[k], c.max_samples) << "client " << k;
  }
  // Median of min + lognormal(4, 2) is 50 + e^4 ≈ 105 (±3 standard errors: 75..160); with
  // sigma 2 about 8% of the clients exceed 50 + 950 and sit exactly at the cap.
  std::nth_element(n.begin(), n.begin() + clients / 2, n.end());
  EXPECT_GT(n[clients / 2], 75);
  EXPECT_LT(n[clients / 2], 160);
  const auto capped = std::count(n.begin(), n.end(), c.max_samples);
  EXPECT_GT(capped, 5);
  EXPECT_LT(capped, 50);

  // A huge mu puts every client at the cap; max == min fixes the size.
  c.size_mu = 50;
  auto big = counts_per_client(make_synthetic(c, 20, 5), 20);
  for (int64_t v : big) EXPECT_EQ(v, c.max_samples);
  c.min_samples = c.max_samples = 77;
  auto fixed = counts_per_client(make_synthetic(c, 20, 5), 20);
  for (int64_t v : fixed) EXPECT_EQ(v, 77);
}

TEST(Synthetic, FeatureVarianceFollowsPowerLaw) {
  // Σ = diag(j^-1.2): within a client, the variance of feature j around v_k is j^-1.2.
  SyntheticConfig c;
  c.features = 30;
  c.min_samples = c.max_samples = 5000;
  const int64_t clients = 4;
  const Dataset d = make_synthetic(c, clients, 11);
  torch::Tensor var = torch::zeros({c.features}, torch::kFloat64);  // [D] mean over clients
  for (int64_t k = 0; k < clients; ++k) {
    const torch::Tensor xk = d.x.slice(0, k * 5000, (k + 1) * 5000).to(torch::kFloat64);  // [5000, D]
    var += xk.var(0, /*unbiased=*/true) / clients;
  }
  // 20000 samples: the relative standard error of each variance is about 1%.
  for (int64_t j = 0; j < c.features; ++j) {
    const double expected = std::pow(static_cast<double>(j + 1), -1.2);
    EXPECT_NEAR(var[j].item<double>() / expected, 1.0, 0.05) << "feature " << j + 1;
  }
  // Client means differ (the beta spread): the per-client mean of feature 1 is not common.
  const torch::Tensor m0 = d.x.slice(0, 0, 5000).mean(0), m1 = d.x.slice(0, 5000, 10000).mean(0);  // [D]
  EXPECT_GT((m0 - m1).abs().max().item<float>(), 0.1);
}

TEST(Synthetic, AlphaZeroBetaZeroStillValidAndDeterministic) {
  SyntheticConfig c;
  c.alpha = 0;
  c.beta = 0;
  const Dataset a = make_synthetic(c, 3, 1), b = make_synthetic(c, 3, 1);
  EXPECT_TRUE(torch::equal(a.x, b.x));
  EXPECT_TRUE(torch::equal(a.y, b.y));
}

TEST(Synthetic, RejectsBadSizes) {
  SyntheticConfig c;
  c.min_samples = 100;
  c.max_samples = 50;
  EXPECT_THROW(make_synthetic(c, 3, 1), ConfigError);
  EXPECT_THROW(make_synthetic(SyntheticConfig{}, 0, 1), ConfigError);
}

}  // namespace
}  // namespace fedsaf
