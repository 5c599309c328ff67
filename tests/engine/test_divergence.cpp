// Diverging clients (non-finite model or loss after local training), for every algorithm: left
// out of their round and counted, the run goes on while few diverge, and stops with one clear
// error after a checkpoint when too many do.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "algo/registry.hpp"
#include "core/config.hpp"
#include "io/h5.hpp"
#include "mpi/mpi_communicator.hpp"
#include "mpi/environment.hpp"
#include "tests/checkpoint/resume_support.hpp"
#include "tests/engine/engine_test_support.hpp"

namespace fedsaf {
namespace {

// 4 natural groups (clients) of 24 two-feature samples; every sample of client 1 is (3e38, 3e38):
// finite, so the data set loads, but its model overflows in the first steps.
std::string write_poisoned_data(const test::SharedDir& dir, Communicator& world) {
  const std::string path = dir / "poisoned.h5";
  if (world.rank() == 0) {
    std::vector<float> x;
    std::vector<int64_t> y, group;
    for (int64_t i = 0; i < 96; ++i) {
      const int64_t g = i / 24, label = i % 2;
      const float v = g == 1 ? 3e38f : static_cast<float>(label) + 0.1f * static_cast<float>(i % 7);
      x.push_back(v), x.push_back(g == 1 ? v : -v);
      y.push_back(label), group.push_back(g);
    }
    h5::File f = h5::File::open(path, h5::Mode::kCreate);
    f.write<float>("x", x, {96, 2});
    f.write<int64_t>("y", y);
    f.write<int64_t>("group", group);
  }
  world.barrier();
  return path;
}

Config poisoned_config(const std::string& algorithm, const std::string& data, std::vector<std::string> extra = {}) {
  std::vector<std::string> overrides = {"run.algorithm=" + algorithm, "data.dataset=hdf5", "data.path=" + data,
                                        "partition.method=natural", "run.clients=4", "run.rounds=3",
                                        "train.batch_size=8", "train.lr=0.05", "model.name=logreg"};
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  return default_config(overrides);
}

// The AgreedError message of a run that must stop ("" if it does not).
std::string stop_message(const std::function<void()>& run) {
  try {
    run();
  } catch (const AgreedError& e) {
    return e.what();
  }
  return "";
}

TEST(Divergence, OneDivergingClientIsLeftOutAndTheRunGoesOnForEveryAlgorithm) {
  MpiCommunicator world(MPI_COMM_WORLD);
  test::SharedDir dir(world);
  const std::string data = write_poisoned_data(dir, world);
  for (const std::string& algorithm : algorithm_names()) {
    const RunResult r = test::run_quiet(poisoned_config(algorithm, data), world);
    ASSERT_EQ(r.rounds.size(), 3u) << algorithm;
    for (const RoundRecord& round : r.rounds) {
      EXPECT_EQ(round.diverged_clients, 1) << algorithm << " round " << round.round;  // client 1, every round
      EXPECT_TRUE(std::isfinite(round.train_loss)) << algorithm << ": the diverged loss stays out of the mean";
    }
    for (float p : r.final_params) ASSERT_TRUE(std::isfinite(p)) << algorithm << ": client 0's model";
    for (const EvalRecord& e : r.evals) {
      EXPECT_TRUE(std::isfinite(e.accuracy)) << algorithm;
      EXPECT_TRUE(std::isfinite(e.auc)) << algorithm << ": non-finite outputs score lowest";
      EXPECT_TRUE(std::isfinite(e.client_accuracy[0])) << algorithm;
    }
  }
}

TEST(Divergence, TooManyRoundsInARowStopAfterACheckpoint) {
  MpiCommunicator world(MPI_COMM_WORLD);
  test::SharedDir dir(world);
  const std::string data = write_poisoned_data(dir, world);
  const Config config = poisoned_config(
      "fedavg", data, {"run.rounds=5", "run.max_diverged_share=0.25", "run.max_diverged_rounds=2"});
  const std::string message = stop_message([&] { test::run_into(config, dir / "stop", world); });
  EXPECT_NE(message.find("round 2: 1 of 4 cohort clients diverged (non-finite model or loss after local training: "
                         "clients 1) (2 rounds in a row at or above run.max_diverged_share = 0.25). Likely cause: a "
                         "learning rate too large"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("ckpt-000002.h5"), std::string::npos) << message;
  const auto checkpoint = test::newest(dir / "stop", world);
  ASSERT_TRUE(checkpoint.has_value());
  EXPECT_EQ(checkpoint->rounds_done, 2);
  if (world.rank() == 0) {
    const h5::File file = h5::File::open(dir / "stop/run.h5", h5::Mode::kRead);
    EXPECT_EQ(file.open_dataset("metrics/rounds/diverged_clients").read<int64_t>(), (std::vector<int64_t>{1, 1}));
  }
}

TEST(Divergence, AWholeCohortDivergingStopsAtOnceForEveryAlgorithm) {
  MpiCommunicator world(MPI_COMM_WORLD);
  for (const std::string& algorithm : algorithm_names()) {
    const Config config = test::small_config(algorithm, {"train.lr=1e38"});
    const std::string message = stop_message([&] { test::run_quiet(config, world); });
    EXPECT_NE(message.find("round 1: 3 of 3 cohort clients diverged"), std::string::npos) << algorithm << ": " << message;
    EXPECT_NE(message.find("(train.lr = 1e+38)"), std::string::npos) << message;
    EXPECT_NE(message.find("No checkpoint was written (no output folder)."), std::string::npos) << message;
  }
}

// A round in which every client diverged trained no model: its train_loss is NaN (issue 25 §4),
// never 0.0, which would read as a perfect loss; the checkpoint of the stop records the same.
TEST(Divergence, AWholeCohortDivergingRecordsNaNAsItsTrainingLoss) {
  MpiCommunicator world(MPI_COMM_WORLD);
  test::SharedDir dir(world);
  const std::string message =
      stop_message([&] { test::run_into(test::small_config("fedavg", {"train.lr=1e38"}), dir / "all", world); });
  ASSERT_NE(message.find("round 1: 3 of 3 cohort clients diverged"), std::string::npos) << message;
  if (world.rank() == 0) {
    const h5::File file = h5::File::open(dir / "all/run.h5", h5::Mode::kRead);
    const std::vector<double> loss = file.open_dataset("metrics/rounds/train_loss").read<double>();
    ASSERT_EQ(loss.size(), 1u);
    EXPECT_TRUE(std::isnan(loss[0])) << "train_loss = " << loss[0];
    EXPECT_EQ(file.open_dataset("metrics/rounds/diverged_clients").read<int64_t>(), (std::vector<int64_t>{3}));
  }
}

}  // namespace
}  // namespace fedsaf
