// fedsaf: no-torch
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "core/rng.hpp"

namespace fedsaf {

TEST(Philox, MatchesRandom123KnownAnswer) {
  // Known-answer test from Random123 (kat_vectors: philox4x32_10, all-ones counter and key).
  const uint32_t ctr[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
  const uint32_t key[2] = {0xffffffffu, 0xffffffffu};
  uint32_t out[4];
  philox4x32(ctr, key, out);
  EXPECT_EQ(out[0], 0x408f276du);
  EXPECT_EQ(out[1], 0x41c83b0eu);
  EXPECT_EQ(out[2], 0xa20bc7c6u);
  EXPECT_EQ(out[3], 0x6d5451fdu);
  const uint32_t zero_ctr[4] = {0, 0, 0, 0}, zero_key[2] = {0, 0};
  philox4x32(zero_ctr, zero_key, out);
  EXPECT_EQ(out[0], 0x6627e8d5u);
  EXPECT_EQ(out[1], 0xe169c58du);
  EXPECT_EQ(out[2], 0xbc57ac4cu);
  EXPECT_EQ(out[3], 0x9b00dbd8u);
}

TEST(Philox, BlocksInBatchEqualBlocksOneAtATime) {
  const uint32_t key[2] = {0x12345678u, 0x9abcdef0u};
  for (int n = 1; n <= kPhiloxBatch; ++n) {
    const uint32_t first[4] = {0xfffffffau, 7, 8, 9};  // lanes wrap past 2^32 like single blocks
    uint32_t batch[kPhiloxBatch][4];
    philox4x32_blocks(first, key, n, batch);
    for (int i = 0; i < n; ++i) {
      const uint32_t counter[4] = {first[0] + static_cast<uint32_t>(i), 7, 8, 9};
      uint32_t single[4];
      philox4x32(counter, key, single);
      for (int w = 0; w < 4; ++w) EXPECT_EQ(batch[i][w], single[w]) << "n " << n << " block " << i << " word " << w;
    }
  }
}

TEST(RngStream, DrawsPhiloxBlocksInCounterOrder) {
  // The stream's numbers are its blocks (index i, purpose | c << 8, a, b) in order, two 64-bit
  // draws per block, across the batches it computes ahead.
  const uint64_t seed = 0x0123456789abcdefULL;
  RngStream stream(seed, RngPurpose::kCohort, 11, 22, 33);
  const uint32_t key[2] = {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  for (uint32_t block = 0; block < 5 * kPhiloxBatch + 3; ++block) {
    const uint32_t counter[4] = {block, static_cast<uint32_t>(RngPurpose::kCohort) | (33u << 8), 11, 22};
    uint32_t words[4];
    philox4x32(counter, key, words);
    EXPECT_EQ(stream.next_u64(), (static_cast<uint64_t>(words[1]) << 32) | words[0]) << "block " << block;
    EXPECT_EQ(stream.next_u64(), (static_cast<uint64_t>(words[3]) << 32) | words[2]) << "block " << block;
  }
}

TEST(RngStream, NormalsInBulkEqualOneAtATime) {
  // Odd and even counts, starting with and without a spare draw of the previous pair.
  RngStream one(3, RngPurpose::kSynthetic, 5), bulk(3, RngPurpose::kSynthetic, 5);
  std::vector<double> expected, got;
  for (int64_t n : {0, 1, 7, 4, 1, 1, 10, 3}) {
    for (int64_t i = 0; i < n; ++i) expected.push_back(one.normal());
    std::vector<double> part(static_cast<size_t>(n));
    bulk.normals(part.data(), n);
    got.insert(got.end(), part.begin(), part.end());
  }
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], expected[i]) << "draw " << i;
  EXPECT_EQ(bulk.normal(), one.normal());  // the streams stay in step afterwards
}

TEST(RngStream, SameCoordinatesSameNumbersOtherCoordinatesOthers) {
  RngStream a(42, RngPurpose::kCohort, 3, 7), b(42, RngPurpose::kCohort, 3, 7);
  RngStream c(42, RngPurpose::kCohort, 3, 8), d(43, RngPurpose::kCohort, 3, 7);
  RngStream e(42, RngPurpose::kPartition, 3, 7);
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    EXPECT_NE(x, c.next_u64());
    EXPECT_NE(x, d.next_u64());
    EXPECT_NE(x, e.next_u64());
  }
}

TEST(RngStream, UniformAndNormalMoments) {
  RngStream r(1, RngPurpose::kTest);
  const int n = 200000;
  double su = 0, sn = 0, sn2 = 0;
  for (int i = 0; i < n; ++i) {
    const double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    su += u;
    const double z = r.normal();
    sn += z;
    sn2 += z * z;
  }
  EXPECT_NEAR(su / n, 0.5, 0.005);
  EXPECT_NEAR(sn / n, 0.0, 0.01);
  EXPECT_NEAR(sn2 / n, 1.0, 0.02);
}

TEST(RngStream, GammaMeanAndVarianceMatchShape) {
  for (double shape : {0.1, 0.5, 1.0, 3.0}) {
    RngStream r(5, RngPurpose::kTest, static_cast<uint32_t>(shape * 10));
    const int n = 100000;
    double s = 0, s2 = 0;
    for (int i = 0; i < n; ++i) {
      const double g = r.gamma(shape);
      ASSERT_GE(g, 0.0);
      s += g;
      s2 += g * g;
    }
    const double mean = s / n, var = s2 / n - mean * mean;
    EXPECT_NEAR(mean, shape, 0.03 * std::max(1.0, shape)) << "shape " << shape;
    EXPECT_NEAR(var, shape, 0.08 * std::max(1.0, shape)) << "shape " << shape;
  }
}

TEST(RngStream, DirichletSumsToOne) {
  RngStream r(9, RngPurpose::kTest);
  for (double alpha : {0.01, 0.1, 1.0, 10.0}) {
    const auto p = r.dirichlet(alpha, 20);
    EXPECT_NEAR(std::accumulate(p.begin(), p.end(), 0.0), 1.0, 1e-12);
    for (double x : p) EXPECT_GE(x, 0.0);
  }
}

TEST(RngStream, PermutationIsAPermutationAndUniformIntStaysInRange) {
  RngStream r(3, RngPurpose::kTest);
  auto p = r.permutation(1000);
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) EXPECT_EQ(sorted[static_cast<size_t>(i)], i);
  EXPECT_NE(p, sorted);
  std::vector<int> hits(7, 0);
  for (int i = 0; i < 70000; ++i) ++hits[r.uniform_int(7)];
  for (int h : hits) EXPECT_NEAR(h, 10000, 500);
}

}  // namespace fedsaf
