// The engine's reductions of per-client statistics (sim/cohort_reduction.hpp) against hand-computed
// values, on 1 and 3 in-process ranks: the same numbers whichever rank hosts which client.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/errors.hpp"
#include "sim/cohort_reduction.hpp"
#include "tests/comm/comm_test_support.hpp"

namespace fedsaf {
namespace {

const std::vector<Statistic> kDeclared = {{"mean", Reduction::weighted_mean, 2},
                                          {"total", Reduction::sum, 1},
                                          {"peak", Reduction::max, 2},
                                          {"table", Reduction::rows, 2}};

// Client c of 4 (c = 0, 1, 3 train; 2 does not), hosted by rank c mod R, with n_c = c + 1 samples:
// v_c = (c, 10c) for every statistic ("total": (c)).
CohortStatistics reduce_on(Communicator& comm) {
  CohortReduction reduction(kDeclared, 4, torch::kCPU);
  for (int64_t c : {0, 1, 3}) {
    if (c % comm.size() != comm.rank()) continue;
    const auto v = static_cast<float>(c);
    ClientStatistics values;
    values.put("mean", torch::tensor({v, 10 * v}));
    values.put("total", torch::tensor({v}));
    values.put("peak", torch::tensor({v, -10 * v}));
    values.put("table", torch::tensor({v, 10 * v}));
    reduction.add(c, static_cast<double>(c + 1), values);
  }
  return reduction.reduce(comm);
}

TEST(CohortReduction, HandComputedOnOneAndThreeRanks) {
  for (int ranks : {1, 3}) {
    const std::vector<CohortStatistics> got = test::per_rank<CohortStatistics>(ranks, reduce_on);
    for (const CohortStatistics& s : got) {
      // (1·0 + 2·1 + 4·3) / 7 = 2, and 10 times that.
      EXPECT_TRUE(torch::allclose(s.at("mean"), torch::tensor({2.f, 20.f}))) << ranks << " ranks: " << s.at("mean");
      EXPECT_EQ(s.at("mean").scalar_type(), torch::kFloat32);
      EXPECT_EQ(s.at("total").item<double>(), 4.0) << ranks << " ranks";  // 0 + 1 + 3
      EXPECT_TRUE(torch::equal(s.at("peak"), torch::tensor({3.0, 0.0}, torch::kFloat64))) << s.at("peak");
      const torch::Tensor table = s.at("table");  // [4, 2]
      ASSERT_EQ(table.sizes(), (std::vector<int64_t>{4, 2}));
      EXPECT_TRUE(torch::equal(table[3], torch::tensor({3.0, 30.0}, torch::kFloat64))) << table;
      EXPECT_TRUE(torch::equal(table[1], torch::tensor({1.0, 10.0}, torch::kFloat64))) << table;
      EXPECT_TRUE(torch::isnan(table[2]).all().item<bool>()) << "client 2 did not train: " << table;
    }
  }
}

TEST(CohortReduction, NobodyTrainedAndTheNextRoundStartsFromZero) {
  run_in_process(2, [](Communicator& comm) {
    CohortReduction reduction(kDeclared, 4, torch::kCPU);
    CohortStatistics none = reduction.reduce(comm);
    EXPECT_FALSE(none.at("mean").defined()) << "a weighted mean of no client is undefined";
    EXPECT_EQ(none.at("total").item<double>(), 0.0);
    EXPECT_EQ(none.at("peak")[0].item<double>(), -std::numeric_limits<double>::infinity());
    EXPECT_TRUE(torch::isnan(none.at("table")).all().item<bool>());
    ClientStatistics values;
    for (const char* name : {"mean", "peak", "table"}) values.put(name, torch::tensor({5.f, 6.f}));
    values.put("total", torch::tensor({7.f}));
    if (comm.rank() == 1) reduction.add(2, 3.0, values);
    const CohortStatistics one = reduction.reduce(comm);
    EXPECT_TRUE(torch::equal(one.at("mean"), torch::tensor({5.f, 6.f})));
    EXPECT_EQ(one.at("total").item<double>(), 7.0);
    const CohortStatistics again = reduction.reduce(comm);
    EXPECT_EQ(again.at("total").item<double>(), 0.0) << "each reduce starts the next round's sums from zero";
    EXPECT_FALSE(again.at("mean").defined());
  });
}

TEST(CohortReduction, MissingOrMisshapenStatisticIsNamed) {
  CohortReduction reduction({{"model", Reduction::weighted_mean, 3}}, 2, torch::kCPU);
  ClientStatistics missing;
  EXPECT_NE(test::error_of([&] { reduction.add(1, 1.0, missing); }).find("statistic 'model' needs [3] values, got none"),
            std::string::npos);
  ClientStatistics short_one;
  short_one.put("model", torch::zeros({2}));
  EXPECT_NE(test::error_of([&] { reduction.add(1, 1.0, short_one); }).find("'model' needs [3] values, got 2"),
            std::string::npos);
  EXPECT_THROW(CohortStatistics().at("model"), std::out_of_range);
}

}  // namespace
}  // namespace fedsaf
