// FedAvgM, the worked example of docs/adding-an-algorithm.md: its server step against hand-computed
// numbers, fedavg when it has no momentum, and the same results at every rank count.
#include <gtest/gtest.h>

#include <cmath>

#include "algo/registry.hpp"
#include "core/config.hpp"
#include "mpi/mpi_communicator.hpp"
#include "tests/engine/engine_test_support.hpp"

namespace fedsaf {
namespace {

TEST(FedAvgM, ServerStepMatchesHandComputedMomentum) {
  MpiCommunicator world(MPI_COMM_WORLD);
  const Config config = default_config({"run.algorithm=fedavgm", "fedavgm.momentum=0.5", "fedavgm.server_lr=2"});
  AlgoContext context;
  context.train = config.train;
  context.seed = config.run.seed;
  context.num_clients = 1;
  context.train_sizes = {1};
  context.initial_params = torch::zeros({2});  // [P]
  const std::unique_ptr<Algorithm> algo = make_algorithm(config);
  algo->init(context);
  ASSERT_EQ(algo->statistics().size(), 1u);
  EXPECT_EQ(algo->statistics()[0].reduction, Reduction::weighted_mean);
  EXPECT_EQ(algo->statistics()[0].width, 2) << "the engine averages the whole model";
  torch::Tensor w = torch::empty({2});  // [P]
  ServerStep step;
  step.statistics.set("model", torch::tensor({1.f, 10.f}));
  algo->server_step(step);  // v = (1, 10), w = 0 + 2·v = (2, 20)
  algo->eval_params(0, w);
  EXPECT_TRUE(torch::equal(w, torch::tensor({2.f, 20.f}))) << w;
  step.statistics.set("model", torch::tensor({3.f, 20.f}));
  algo->server_step(step);  // Δ = (1, 0), v = 0.5·(1, 10) + Δ = (1.5, 5), w = (2, 20) + 2·v = (5, 30)
  algo->client_begin(0, w);
  EXPECT_TRUE(torch::equal(w, torch::tensor({5.f, 30.f}))) << w;
  step.statistics.set("model", torch::Tensor());  // nobody trained: nothing moves
  algo->server_step(step);
  algo->eval_params(0, w);
  EXPECT_TRUE(torch::equal(w, torch::tensor({5.f, 30.f}))) << w;
}

TEST(FedAvgM, WithoutMomentumAndUnitStepIsFedAvg) {
  MpiCommunicator world(MPI_COMM_WORLD);
  const RunResult fedavg = test::run_quiet(test::small_config("fedavg"), world);
  const RunResult fedavgm =
      test::run_quiet(test::small_config("fedavgm", {"fedavgm.momentum=0", "fedavgm.server_lr=1"}), world);
  ASSERT_EQ(fedavgm.final_params.size(), fedavg.final_params.size());
  for (size_t i = 0; i < fedavg.final_params.size(); ++i)
    EXPECT_NEAR(fedavgm.final_params[i], fedavg.final_params[i], 1e-6 * (1 + std::abs(fedavg.final_params[i]))) << i;
  ASSERT_EQ(fedavgm.evals.size(), fedavg.evals.size());
  for (size_t e = 0; e < fedavg.evals.size(); ++e) EXPECT_NEAR(fedavgm.evals[e].loss, fedavg.evals[e].loss, 1e-5);
}

TEST(FedAvgM, SameResultsAtEveryRankCount) {
  MpiCommunicator world(MPI_COMM_WORLD);
  const Config config = test::small_config("fedavgm", {"fedavgm.momentum=0.5"});
  const test::Reference reference = test::single_rank_reference(config, world);
  const RunResult r = test::run_quiet(config, world);
  EXPECT_EQ(r.cohort_history, reference.cohorts);
  ASSERT_EQ(r.final_params.size(), reference.params.size());
  for (size_t i = 0; i < r.final_params.size(); ++i) EXPECT_NEAR(r.final_params[i], reference.params[i], 1e-5) << i;
}

}  // namespace
}  // namespace fedsaf
