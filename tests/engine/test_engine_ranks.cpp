// Engine tests under mpirun at 1, 2 and 4 ranks. The reference for cross-rank-count checks is the
// same experiment run on rank 0 alone (MPI_COMM_SELF) inside the same job.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>

#include "algo/fedavg.hpp"
#include "core/config.hpp"
#include "data/readers.hpp"
#include "mpi/mpi_communicator.hpp"
#include "sim/engine.hpp"
#include "sim/cohort_reduction.hpp"
#include "tests/engine/engine_test_support.hpp"

namespace fedsaf {
namespace {

using test::small_config;

using test::run_quiet;

using test::single_rank_reference;
using test::Reference;

// The synthetic data set generated in parts by the ranks and joined is the one a rank generates
// alone, bit for bit, including when there are fewer clients than ranks.
TEST(SyntheticData, GeneratedInPartsByTheRanksEqualsGeneratedAlone) {
  MpiCommunicator world(MPI_COMM_WORLD);
  const ReaderRanks ranks{world.rank(), world.size(),
                          [&world](const torch::Tensor& rows) { return world.allgatherv(rows).data; }};
  SyntheticConfig c;
  c.min_samples = 5;
  c.max_samples = 40;
  for (int64_t clients : {int64_t{1}, int64_t{3}, int64_t{37}}) {
    const Dataset alone = make_synthetic(c, clients, 17);
    const Dataset parts = make_synthetic(c, clients, 17, ranks);
    EXPECT_TRUE(torch::equal(parts.x, alone.x)) << clients << " clients";
    EXPECT_TRUE(torch::equal(parts.y, alone.y)) << clients << " clients";
    EXPECT_TRUE(torch::equal(parts.group, alone.group)) << clients << " clients";
  }
}

class EngineRanks : public ::testing::TestWithParam<std::string> {};

TEST_P(EngineRanks, ResultsAgreeWithASingleRankRunWithin1e5) {
  MpiCommunicator world(MPI_COMM_WORLD);
  const Config config = small_config(GetParam());
  const Reference ref = single_rank_reference(config, world);
  const RunResult r = run_quiet(config, world);
  ASSERT_EQ(r.evals.size(), ref.accuracy.size());
  for (size_t i = 0; i < r.evals.size(); ++i) {
    EXPECT_NEAR(r.evals[i].accuracy, ref.accuracy[i], 1e-5) << "evaluation " << i;
    EXPECT_NEAR(r.evals[i].loss, ref.loss[i], 1e-5) << "evaluation " << i;
  }
  EXPECT_EQ(r.cohort_history, ref.cohorts);  // the same cohorts on any number of ranks
  ASSERT_EQ(r.final_params.size(), ref.params.size());
  double max_diff = 0;
  for (size_t i = 0; i < ref.params.size(); ++i)
    max_diff = std::max(max_diff, static_cast<double>(std::abs(r.final_params[i] - ref.params[i])));
  EXPECT_LE(max_diff, 1e-5);
}

TEST_P(EngineRanks, TwoRunsAtTheSameRankCountAreBitIdentical) {
  MpiCommunicator world(MPI_COMM_WORLD);
  const Config config = small_config(GetParam());
  const RunResult a = run_quiet(config, world), b = run_quiet(config, world);
  ASSERT_EQ(a.evals.size(), b.evals.size());
  for (size_t i = 0; i < a.evals.size(); ++i) {
    EXPECT_EQ(a.evals[i].accuracy, b.evals[i].accuracy);
    EXPECT_EQ(a.evals[i].loss, b.evals[i].loss);
  }
  EXPECT_EQ(a.final_params, b.final_params);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, EngineRanks, ::testing::Values("fedavg", "fedprox", "local"));

TEST(Engine, FedProxWithMuZeroIsFedAvgExactly) {
  MpiCommunicator world(MPI_COMM_WORLD);
  const RunResult avg = run_quiet(small_config("fedavg"), world);
  const RunResult prox = run_quiet(small_config("fedprox", {"fedprox.mu=0"}), world);
  const RunResult prox_on = run_quiet(small_config("fedprox", {"fedprox.mu=1.0"}), world);
  EXPECT_EQ(avg.final_params, prox.final_params);
  for (size_t i = 0; i < avg.evals.size(); ++i) EXPECT_EQ(avg.evals[i].accuracy, prox.evals[i].accuracy);
  EXPECT_NE(avg.final_params, prox_on.final_params);  // the proximal term does act when mu > 0
}

TEST(Engine, LocalNeverSendsModelBytes) {
  MpiCommunicator world(MPI_COMM_WORLD);
  // Without evaluation in a round, the only traffic is the training-loss reduction (3 doubles:
  // Σ n·loss, Σ n and the count of diverged clients).
  const RunResult local = run_quiet(small_config("local", {"run.eval_every=100"}), world);
  const RunResult avg = run_quiet(small_config("fedavg", {"run.eval_every=100"}), world);
  const int64_t params = static_cast<int64_t>(avg.final_params.size());
  for (size_t r = 0; r + 1 < local.rounds.size(); ++r) {  // the last round evaluates
    EXPECT_EQ(local.rounds[r].timing.bytes_sent, 3 * 8);
    EXPECT_EQ(local.rounds[r].timing.bytes_received, 3 * 8);
    // FedAvg moves the model (P + 1 doubles: Σ n·w and Σ n) on top of the loss.
    EXPECT_EQ(avg.rounds[r].timing.bytes_sent, 3 * 8 + (params + 1) * 8);
  }
}

TEST(FedAvgServer, HandComputedThreeClientWeightedAverage) {
  MpiCommunicator world(MPI_COMM_WORLD);
  Config config = default_config();
  AlgoContext context;
  context.train = config.train;
  context.seed = config.run.seed;
  context.num_clients = 3;
  context.train_sizes = {1, 2, 3};
  context.initial_params = torch::zeros({2});
  FedAvg fedavg;
  fedavg.init(context);
  // The engine's reduction: client c (hosted by rank c mod R) reports w_c = (c + 1, 10·(c + 1)).
  CohortReduction reduction(fedavg.statistics(), context.num_clients, torch::kCPU);
  for (int64_t c = 0; c < 3; ++c) {
    if (c % world.size() != world.rank()) continue;
    ClientStatistics statistics;
    fedavg.client_end(c, torch::tensor({1.0f * (c + 1), 10.0f * (c + 1)}), statistics);
    reduction.add(c, static_cast<double>(context.train_sizes[c]), statistics);
  }
  ServerStep step;
  step.statistics = reduction.reduce(world);
  fedavg.server_step(step);
  // (1·1 + 2·2 + 3·3) / 6 = 14/6.
  EXPECT_FLOAT_EQ(fedavg.global_model()[0].item<float>(), 14.0f / 6.0f);
  EXPECT_FLOAT_EQ(fedavg.global_model()[1].item<float>(), 140.0f / 6.0f);
  torch::Tensor start = torch::zeros({2});
  fedavg.client_begin(1, start);
  EXPECT_TRUE(torch::equal(start, fedavg.global_model()));
}

}  // namespace
}  // namespace fedsaf
