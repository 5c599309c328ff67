// One rank's error, wherever in a round it happens, ends the whole job within seconds with the
// rank and the cause named: it never hangs with the other ranks waiting in a collective (an MPI
// all-reduce, the attention ring, a parallel HDF5 write or close). The failure is injected with the
// FEDSAF_FAIL_AT test hook (mpi/environment.hpp) into the last rank of 2 and of 4.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <tuple>

#include "tests/common/test_support.hpp"

namespace fedsaf {
namespace {

constexpr double kBoundSeconds = 60;  // start-up and a round of 4 oversubscribed ranks included

class FailingRank : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(FailingRank, EndsTheWholeJobNamingTheRankAndTheCause) {
  const auto& [phase, ranks] = GetParam();
  const int failing = ranks - 1;
  test::TempDir dir("fedsaf-failing-rank");
  const std::string fail_at = phase + "@2:" + std::to_string(failing);
  const std::string command =
      "FEDSAF_FAIL_AT='" + fail_at + "' timeout 90 mpirun -n " + std::to_string(ranks) +
      " --bind-to none -x FEDSAF_FAIL_AT " + FEDSAF_BINARY + " run " + FEDSAF_SOURCE_DIR +
      "/configs/default.toml --quiet --out " + dir.str() +
      " --set run.algorithm=fedsaf --set run.clients=8 --set run.rounds=4 --set run.checkpoint_every=1"
      " --set model.name=mlp --set model.hidden=[16] --set model.n_head=1";
  const auto t0 = std::chrono::steady_clock::now();
  const test::CommandResult r = test::run_command(command);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.status, 124) << "hung until timeout killed it\n" << r.output;
  EXPECT_LT(seconds, kBoundSeconds) << r.output;
  EXPECT_NE(r.output.find("rank " + std::to_string(failing) + ": "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("injected failure at " + phase + " in round 2"), std::string::npos) << r.output;
}

INSTANTIATE_TEST_SUITE_P(
    Phases, FailingRank,
    ::testing::Combine(::testing::Values("training", "server step", "attention", "evaluation", "run file",
                                         "checkpoint"),
                       ::testing::Values(2, 4)),
    [](const ::testing::TestParamInfo<std::tuple<std::string, int>>& info) {
      std::string name = std::get<0>(info.param) + "_at_" + std::to_string(std::get<1>(info.param)) + "_ranks";
      for (char& c : name)
        if (c == ' ') c = '_';
      return name;
    });

}  // namespace
}  // namespace fedsaf
