#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <set>

#include "client/evaluate.hpp"
#include "io/run_records.hpp"
#include "sim/placement.hpp"
#include "sim/rebalance.hpp"

namespace fedsaf {
namespace {

TEST(Placement, CostRuleByHand) {
  // 2 epochs, batch 10, evaluation every 2 rounds. Client 0: 25 samples (3 steps), 9 test;
  // client 1: 0 samples, 3 test; client 2: 10 samples (1 step), no test list entry.
  const std::vector<double> costs = estimate_client_costs({25, 0, 10}, {9, 3}, {2, 10, 2});
  ASSERT_EQ(costs.size(), 3u);
  EXPECT_DOUBLE_EQ(costs[0], 2 * (25 + kStepOverhead * 3) + 9.0 / 3 / 2 + kClientOverhead);
  EXPECT_DOUBLE_EQ(costs[1], 3.0 / 3 / 2 + kClientOverhead);
  EXPECT_DOUBLE_EQ(costs[2], 2 * (10 + kStepOverhead * 1) + kClientOverhead);
}

TEST(Placement, GreedyBalancesByCostAndIsDeterministic) {
  const std::vector<double> costs = {100, 10, 60, 50, 40, 30, 5};
  const std::vector<int> a = place_by_cost(costs, 2);
  EXPECT_EQ(a, place_by_cost(costs, 2));
  // Hand trace (to the rank with the smaller load + cost): 100→r0 (100), 60→r1 (60), 50→r1 (110),
  // 40→r0 (140), 30→r1 (140), 10→r0 (150; tie at 150 goes to the lower rank), 5→r1 (145).
  EXPECT_EQ(a, (std::vector<int>{0, 0, 1, 1, 0, 1, 1}));
  EXPECT_EQ(hosted_clients(a, 0), (std::vector<int64_t>{0, 1, 4}));
  EXPECT_DOUBLE_EQ(predicted_makespan(costs, a, {1.0, 1.0}), 150.0);
  // One rank hosts everyone; more ranks than clients leaves some ranks empty.
  for (int r : place_by_cost(costs, 1)) EXPECT_EQ(r, 0);
  const auto many = place_by_cost({5, 5}, 4);
  EXPECT_EQ(std::set<int>(many.begin(), many.end()).size(), 2u);
}

TEST(Placement, MeasuredSpeedsGiveTheFasterRankMoreWork) {
  // Rank 1 runs at a third of rank 0's speed. Hand trace of (load + cost) / speed:
  // 6: r0 6 vs r1 18 → r0; 4: r0 10 vs r1 12 → r0; 3: r0 13 vs r1 9 → r1; 2: r0 12 vs r1 15 → r0;
  // 1: r0 13 vs r1 12 → r1.
  const std::vector<double> costs = {1, 2, 3, 4, 6};
  const std::vector<double> speeds = {3.0, 1.0};
  const std::vector<int> a = place_by_cost(costs, 2, speeds);
  EXPECT_EQ(a, (std::vector<int>{1, 0, 1, 0, 0}));
  EXPECT_DOUBLE_EQ(predicted_makespan(costs, a, speeds), 4.0);  // r0: 12 / 3, r1: 4 / 1
}

TEST(Rebalance, ReplacesAfterTwoDriftingRoundsByMeasuredSpeed) {
  const std::vector<double> costs = {1, 2, 3, 4, 6};
  // 6→r0, 4→r1, 3→r1 (7 < 9), 2→r0 (8 < 9), 1→r1 (8 < 9): 8 units each.
  const std::vector<int> start = place_by_cost(costs, 2);
  ASSERT_EQ(start, (std::vector<int>{1, 0, 1, 1, 0}));
  Rebalancer off(0.0, 2);
  EXPECT_FALSE(off.observe({1, 3}, {8, 8}, costs, start));
  EXPECT_FALSE(off.observe({1, 3}, {8, 8}, costs, start));

  Rebalancer r(0.1, 2);
  // Rank 0 does 9 units a second, rank 1 3. Round 1: idle share 1 − (8/9 + 8/3) / 2 / (8/3) > 0.1.
  EXPECT_FALSE(r.observe({8 / 9.0, 8 / 3.0}, {8, 8}, costs, start));
  // A balanced round in between restarts the count.
  EXPECT_FALSE(r.observe({2, 2}, {18, 6}, costs, start));
  EXPECT_FALSE(r.observe({8 / 9.0, 8 / 3.0}, {8, 8}, costs, start));
  // Second drifting round in a row. Speeds since the start: r0 42 / (3·8/9 + 2) = 9, r1 30 / 10 = 3,
  // so the placement of MeasuredSpeedsGiveTheFasterRankMoreWork (slowest rank 4/3 s instead of 8/3).
  const auto placed = r.observe({8 / 9.0, 8 / 3.0}, {8, 8}, costs, start);
  ASSERT_TRUE(placed);
  EXPECT_NEAR(r.last_idle_share(), 1 - (8 / 9.0 + 8 / 3.0) / 2 / (8 / 3.0), 1e-12);  // 1/3
  EXPECT_EQ(*placed, (std::vector<int>{1, 0, 1, 0, 0}));
  ASSERT_EQ(r.last_speeds().size(), 2u);
  EXPECT_NEAR(r.last_speeds()[0], 9.0, 1e-12);
  EXPECT_NEAR(r.last_speeds()[1], 3.0, 1e-12);
  // The counts start again: one drifting round is not enough.
  EXPECT_FALSE(r.observe({8 / 9.0, 8 / 3.0}, {12, 4}, costs, *placed));
}

TEST(Rebalance, ARankLeftEmptyKeepsItsLastSpeed) {
  // Rank 1 is 100× slower: everything moves to rank 0.
  const std::vector<double> costs = {1, 2, 3, 4, 6};
  const std::vector<int> start = place_by_cost(costs, 2);
  Rebalancer r(0.1, 2);
  EXPECT_FALSE(r.observe({8, 800}, {8, 8}, costs, start));
  const auto emptied = r.observe({8, 800}, {8, 8}, costs, start);
  ASSERT_TRUE(emptied);
  EXPECT_EQ(*emptied, std::vector<int>(5, 0));
  // Rank 1 now idles while rank 0 works (idle share 1/2), but with its last speed (0.01) nothing
  // is worth moving back.
  for (int round = 0; round < 4; ++round) EXPECT_FALSE(r.observe({16, 0}, {16, 0}, costs, *emptied)) << round;
}

TEST(Rebalance, NothingMovesWhenNoPlacementIsFaster) {
  // One client holds most of the work: its rank is busy 10× longer, but equal speeds admit no
  // better placement, so the drift is reported by the idle times alone.
  const std::vector<double> costs = {10, 1};
  const std::vector<int> start = place_by_cost(costs, 2);
  ASSERT_EQ(start, (std::vector<int>{0, 1}));
  Rebalancer r(0.1, 2);
  for (int round = 0; round < 4; ++round) EXPECT_FALSE(r.observe({10, 1}, {10, 1}, costs, start)) << round;
}

TEST(Cohort, SizeIsFloorOfRatioAndDependsOnlyOnSeedAndRound) {
  const auto c = sample_cohort(7, 3, 20, 0.3);
  EXPECT_EQ(c.size(), 6u);
  EXPECT_TRUE(std::is_sorted(c.begin(), c.end()));
  EXPECT_EQ(std::set<int64_t>(c.begin(), c.end()).size(), 6u);
  EXPECT_EQ(c, sample_cohort(7, 3, 20, 0.3));
  EXPECT_NE(c, sample_cohort(7, 4, 20, 0.3));
  EXPECT_NE(c, sample_cohort(8, 3, 20, 0.3));
  EXPECT_EQ(sample_cohort(7, 0, 20, 1.0).size(), 20u);
  EXPECT_EQ(sample_cohort(7, 0, 20, 0.01).size(), 1u);  // at least one client
}

TEST(Metrics, EvalRecordMatchesHandComputedValues) {
  // Client 0: 3/4 right, client 1: 1/2, client 2: no test data.
  const EvalRecord r = make_eval_record(5, {3, 1, 0}, {4, 2, 0}, {1.2, 0.6, 0}, 0.9);
  EXPECT_DOUBLE_EQ(r.accuracy, 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(r.accuracy_mean, (0.75 + 0.5) / 2);
  EXPECT_NEAR(r.accuracy_std, 0.125, 1e-12);
  EXPECT_DOUBLE_EQ(r.loss, 1.8 / 6.0);
  EXPECT_TRUE(std::isnan(r.client_accuracy[2]));
  EXPECT_EQ(r.round, 5);
}

TEST(Metrics, SummaryBestLastAndMeanOfLastTen) {
  std::vector<EvalRecord> evals;
  for (int i = 0; i < 15; ++i) {
    EvalRecord e;
    e.round = i;
    e.accuracy = i == 4 ? 0.99 : 0.01 * i;
    evals.push_back(e);
  }
  const RunSummary s = summarize(evals);
  EXPECT_DOUBLE_EQ(s.best_accuracy, 0.99);
  EXPECT_EQ(s.best_round, 4);
  EXPECT_DOUBLE_EQ(s.last_accuracy, 0.14);
  EXPECT_NEAR(s.mean_last10, (0.05 + 0.14) / 2, 1e-12);  // rounds 5..14
  EXPECT_EQ(summarize({}).evaluations, 0);
}

TEST(Auc, HandComputedCases) {
  // Two samples, two classes. Sample 0 (label 0): p = (0.9, 0.1); sample 1 (label 1): p = (0.3, 0.7).
  // Positives: 0.9, 0.7; negatives: 0.1, 0.3 → every positive outranks every negative: AUC = 1.
  AucHistogram perfect;
  perfect.add(torch::tensor({{0.9, 0.1}, {0.3, 0.7}}), torch::tensor({0, 1}));
  EXPECT_DOUBLE_EQ(perfect.auc(), 1.0);
  // Sample 1 mislabelled: positives 0.9, 0.3; negatives 0.1, 0.7 → pairs won: (0.9>0.1),
  // (0.9>0.7), (0.3>0.1), (0.3<0.7) → 3/4.
  AucHistogram three_quarters;
  three_quarters.add(torch::tensor({{0.9, 0.1}, {0.3, 0.7}}), torch::tensor({0, 0}));
  EXPECT_DOUBLE_EQ(three_quarters.auc(), 0.75);
  // Ties count one half.
  AucHistogram ties;
  ties.add(torch::tensor({{0.5, 0.5}}), torch::tensor({1}));
  EXPECT_DOUBLE_EQ(ties.auc(), 0.5);
  // Histograms add: two halves equal the whole.
  AucHistogram a, b, whole;
  const auto p = torch::softmax(torch::randn({50, 4}), 1);
  const auto y = torch::randint(0, 4, {50}, torch::kInt64);
  a.add(p.narrow(0, 0, 20), y.narrow(0, 0, 20));
  b.add(p.narrow(0, 20, 30), y.narrow(0, 20, 30));
  whole.add(p, y);
  a.counts().add_(b.counts());
  EXPECT_DOUBLE_EQ(a.auc(), whole.auc());
}

}  // namespace
}  // namespace fedsaf
