// column_sums_f64 / row_sums_f64 (algo/float64_sums.hpp) sum without casting the whole matrix to
// float64: FedSAF's centre of the uploads (attention.precision float32) must be the float64 sum
// to its last few bits; the shared rows' fingerprints are the one-shot sums, bit for bit.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "algo/float64_sums.hpp"

namespace fedsaf {
namespace {

TEST(Float64Sums, EqualTheOneShotSum) {
  torch::manual_seed(7);
  // Heights on both sides of the row slice (2^17 / S rows), widths that are not multiples of it or
  // of the vector width.
  for (int64_t m : {1, 3, 17, 130, 1151, 3001}) {
    for (int64_t s : {1, 5, 63, 1000, 14210}) {
      const torch::Tensor rows = torch::randn({m, s}) * 3.f + 1.f;  // [m, S] float32
      const torch::Tensor columns = rows.sum(0, false, torch::kFloat64);  // [S]
      EXPECT_TRUE(torch::allclose(column_sums_f64(rows), columns, 1e-13, 1e-12)) << m << " x " << s;
      EXPECT_TRUE(torch::equal(row_sums_f64(rows), rows.sum(1, false, torch::kFloat64))) << m << " x " << s;
      EXPECT_TRUE(torch::equal(row_sums_f64(rows, true), rows.square().sum(1, false, torch::kFloat64))) << m << " x " << s;
    }
  }
  EXPECT_THROW(column_sums_f64(torch::zeros({2, 2}, torch::kFloat64)), c10::Error);  // float32 only
  EXPECT_THROW(column_sums_f64(torch::zeros({4, 2}).t()), c10::Error);                // contiguous only
}

TEST(Float64Sums, EmptyMatricesSumToZeros) {
  EXPECT_TRUE(torch::equal(column_sums_f64(torch::zeros({0, 4})), torch::zeros({4}, torch::kFloat64)));
  EXPECT_EQ(row_sums_f64(torch::zeros({0, 4})).numel(), 0);
  EXPECT_TRUE(torch::equal(row_sums_f64(torch::zeros({3, 0})), torch::zeros({3}, torch::kFloat64)));
}

}  // namespace
}  // namespace fedsaf
