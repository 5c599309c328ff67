// distributed_median against sorting the union (median_sigma), on 1–4 in-process ranks: ties,
// zeros (−0.0 too), odd and even counts, ranks with nothing, and a bad value on one rank.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "algo/attention.hpp"
#include "algo/distributed_median.hpp"
#include "mpi/in_process_communicator.hpp"
#include "tests/common/test_support.hpp"

namespace fedsaf {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

// Rank r's values of case `seed`: a few exact ties (integers), zeros and spread-out doubles.
torch::Tensor values_of(int seed, int rank) {
  torch::manual_seed(1000 * seed + rank);
  const int64_t n = (seed + rank) % 3 == 0 ? 0 : 1 + (seed * 7 + rank * 5) % 23;  // some ranks hold none
  torch::Tensor v = torch::rand({n}, kF64) * 100.0;                               // [n]
  if (n > 2) {
    v[0] = 3.0;  // the same value on several ranks
    v[1] = seed % 2 == 0 ? 0.0 : -0.0;
  }
  if (seed % 4 == 0) v = v.round();  // many ties
  return v;
}

TEST(DistributedMedian, EqualsTheMedianOfTheUnionBitForBit) {
  for (int ranks = 1; ranks <= 4; ++ranks) {
    for (int seed = 0; seed < 12; ++seed) {
      std::vector<torch::Tensor> all;
      for (int r = 0; r < ranks; ++r) all.push_back(values_of(seed, r));
      const double expected = median_sigma(torch::cat(all));
      std::vector<double> got(static_cast<size_t>(ranks));
      run_in_process(ranks, [&](Communicator& comm) {  // (values made above: torch's generator is global)
        got[static_cast<size_t>(comm.rank())] = distributed_median(
            all[static_cast<size_t>(comm.rank())], [&](const torch::Tensor& t) { comm.allreduce_sum(t); });
      });
      for (double g : got) EXPECT_EQ(g, expected) << ranks << " ranks, case " << seed;
    }
  }
}

TEST(DistributedMedian, EmptyOrZeroGivesOneAndABadValueFailsEveryRank) {
  const auto sum_alone = [](const torch::Tensor&) {};
  EXPECT_EQ(distributed_median(torch::zeros({0}, kF64), sum_alone), 1.0);
  EXPECT_EQ(distributed_median(torch::zeros({5}, kF64), sum_alone), 1.0);
  EXPECT_EQ(distributed_median(torch::tensor({4.0, 1.0, 2.0, 3.0}, kF64), sum_alone), 2.5);
  std::vector<std::string> errors(2);
  run_in_process(2, [&](Communicator& comm) {
    const torch::Tensor v = comm.rank() == 1 ? torch::tensor({1.0, -2.0}, kF64) : torch::tensor({1.0}, kF64);
    errors[static_cast<size_t>(comm.rank())] =
        test::error_of([&] { distributed_median(v, [&](const torch::Tensor& t) { comm.allreduce_sum(t); }); });
  });
  for (const std::string& e : errors) EXPECT_NE(e.find("finite and ≥ 0"), std::string::npos) << e;
}

}  // namespace
}  // namespace fedsaf
