// Client-batched training through the whole round loop, at 1, 2 and 4 ranks: for every algorithm,
// clients trained together (train.client_group = 3) give the results of one-at-a-time training
// (train.client_group = 1) within 1e-5, and configurations that cannot stack fall back to one at
// a time.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>

#include "core/config.hpp"
#include "mpi/mpi_communicator.hpp"
#include "sim/engine.hpp"
#include "tests/engine/engine_test_support.hpp"

namespace fedsaf {
namespace {

using test::run_quiet;
using test::small_config;

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const std::vector<std::string> kSplit = {"model.name=mlp", "model.hidden=[16]", "model.n_head=1"};

class ClientGroups : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(ClientGroups, StackedTrainingEqualsOneAtATimeWithin1e5) {
  MpiCommunicator world(MPI_COMM_WORLD);
  const std::vector<std::string>& param = GetParam();
  const std::vector<std::string> extra =
      std::vector<std::string>(param.begin() + 1, param.end()) + std::vector<std::string>{"run.join_ratio=1"};
  const RunResult alone = run_quiet(small_config(param.at(0), extra + std::vector<std::string>{"train.client_group=1"}), world);
  const RunResult together = run_quiet(small_config(param.at(0), extra + std::vector<std::string>{"train.client_group=3"}), world);
  EXPECT_EQ(alone.client_group, 1);
  EXPECT_EQ(together.client_group, 3) << "the stacked path ran";
  ASSERT_EQ(alone.evals.size(), together.evals.size());
  for (size_t i = 0; i < alone.evals.size(); ++i) {
    EXPECT_NEAR(alone.evals[i].accuracy, together.evals[i].accuracy, 1e-5) << "evaluation " << i;
    EXPECT_NEAR(alone.evals[i].loss, together.evals[i].loss, 1e-5) << "evaluation " << i;
  }
  for (size_t i = 0; i < alone.rounds.size(); ++i)
    EXPECT_NEAR(alone.rounds[i].train_loss, together.rounds[i].train_loss, 1e-5) << "round " << i;
  ASSERT_EQ(alone.final_params.size(), together.final_params.size());
  double diff = 0;
  for (size_t i = 0; i < alone.final_params.size(); ++i)
    diff = std::max(diff, static_cast<double>(std::abs(alone.final_params[i] - together.final_params[i])));
  EXPECT_LE(diff, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(
    Algorithms, ClientGroups,
    ::testing::Values(std::vector<std::string>{"fedavg"}, std::vector<std::string>{"fedprox", "fedprox.mu=0.5"},
                      std::vector<std::string>{"local", "model.name=mlp", "model.hidden=[16]"},
                      std::vector<std::string>{"fedavgm", "train.momentum=0.9", "train.weight_decay=0.01"},
                      std::vector<std::string>{"fedper"} + kSplit,
                      std::vector<std::string>{"fedamp", "attention.lambda=5"},
                      std::vector<std::string>{"fedsaf"} + kSplit,
                      std::vector<std::string>{"fedsaf", "attention.kernel=heur", "fedsaf.fisher_mode=scalar"} + kSplit));

TEST(ClientGroupsFallBack, ConfigurationsThatCannotStackTrainOneAtATime) {
  MpiCommunicator world(MPI_COMM_WORLD);
  // fedsaf's pull and last-epoch Fisher belong to one client at a time.
  const RunResult pull = run_quiet(small_config("fedsaf", kSplit + std::vector<std::string>{
                                                              "fedsaf.init_from_cloud=false", "train.client_group=3"}),
                                   world);
  EXPECT_EQ(pull.client_group, 1);
  const RunResult last_epoch = run_quiet(
      small_config("fedsaf", kSplit + std::vector<std::string>{"fedsaf.fisher_source=last_epoch", "train.client_group=0"}),
      world);
  EXPECT_EQ(last_epoch.client_group, 1);
  // Automatic: the small logreg stacks on the CPU (min(128, 2 MiB / 4P)).
  const RunResult automatic = run_quiet(small_config("fedavg"), world);
  EXPECT_EQ(automatic.client_group, 128);
}

}  // namespace
}  // namespace fedsaf
