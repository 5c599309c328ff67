#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <set>

#include "client/evaluate.hpp"
#include "io/run_records.hpp"
#include "sim/placement.hpp"

namespace fedsaf {
namespace {

TEST(Placement, GreedyBalancesBySizeAndIsDeterministic) {
  const std::vector<int64_t> sizes = {100, 10, 60, 50, 40, 30, 5};
  const std::vector<int> a = place_clients(sizes, 2);
  EXPECT_EQ(a, place_clients(sizes, 2));
  // Hand trace (load += size + 1): 100→r0 (101), 60→r1 (61), 50→r1 (112), 40→r0 (142),
  // 30→r1 (143), 10→r0 (153), 5→r1 (149).
  EXPECT_EQ(a, (std::vector<int>{0, 0, 1, 1, 0, 1, 1}));
  EXPECT_EQ(hosted_clients(a, 0), (std::vector<int64_t>{0, 1, 4}));
  // One rank hosts everyone; more ranks than clients leaves some ranks empty.
  for (int r : place_clients(sizes, 1)) EXPECT_EQ(r, 0);
  const auto many = place_clients({5, 5}, 4);
  EXPECT_EQ(std::set<int>(many.begin(), many.end()).size(), 2u);
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
