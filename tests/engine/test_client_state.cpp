// A client-state budget (run.device_state_mb) moves state off the device without changing a
// single result, and the run file records where each rank's state lived (/ranks). On the CPU the
// "spilled" state is ordinary memory, so this checks the bookkeeping and every algorithm's use of
// it; the GPU tests (tests/gpu) check the same with pinned host memory.
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <numeric>
#include <string>
#include <vector>

#include "io/h5.hpp"
#include "mpi/mpi_communicator.hpp"
#include "tests/checkpoint/resume_support.hpp"
#include "tests/engine/engine_test_support.hpp"

namespace fedsaf {
namespace {

class ClientState : public ::testing::TestWithParam<std::string> {};

TEST_P(ClientState, ATinyBudgetSpillsStateWithBitIdenticalResultsAndTheRunFileSaysWhere) {
  MpiCommunicator world(MPI_COMM_WORLD);
  test::SharedDir dir(world);
  const std::vector<std::string> split = {"model.name=mlp", "model.hidden=[16]", "model.n_head=1"};
  std::vector<std::string> tiny = split;
  tiny.push_back("run.device_state_mb=0.001");  // 1 KiB: less than one client's model
  const RunResult unlimited = test::run_into(test::small_config(GetParam(), split), dir / "all", world);
  const RunResult spilled = test::run_into(test::small_config(GetParam(), tiny), dir / "spilled", world);
  EXPECT_EQ(unlimited.final_params, spilled.final_params);
  EXPECT_EQ(unlimited.summary.best_accuracy, spilled.summary.best_accuracy);
  if (world.rank() != 0) return;
  const auto column = [&](const std::string& run, const char* name) {
    return h5::File::open(dir / (run + "/run.h5"), h5::Mode::kRead).open_dataset(std::string("ranks/") + name).read<int64_t>();
  };
  const auto sum = [](const std::vector<int64_t>& v) { return std::accumulate(v.begin(), v.end(), int64_t{0}); };
  EXPECT_EQ(column("all", "state_budget_bytes"), std::vector<int64_t>(static_cast<size_t>(world.size()), -1));
  EXPECT_EQ(column("spilled", "state_budget_bytes"), std::vector<int64_t>(static_cast<size_t>(world.size()), 1049));
  EXPECT_EQ(sum(column("all", "state_host_bytes")), 0);
  EXPECT_GT(sum(column("spilled", "state_host_bytes")), 0);
  // The same state either way, only placed differently.
  EXPECT_EQ(sum(column("all", "state_device_bytes")),
            sum(column("spilled", "state_device_bytes")) + sum(column("spilled", "state_host_bytes")));
  EXPECT_EQ(h5::File::open(dir / "all/run.h5", h5::Mode::kRead).read_strings("ranks/device"),
            std::vector<std::string>(static_cast<size_t>(world.size()), "cpu"));
  // Every rank's host, so a scaling study can count nodes without a flag (all here: one machine).
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  EXPECT_EQ(h5::File::open(dir / "all/run.h5", h5::Mode::kRead).read_strings("ranks/hostname"),
            std::vector<std::string>(static_cast<size_t>(world.size()), host));
}

INSTANTIATE_TEST_SUITE_P(Algorithms, ClientState, ::testing::Values("local", "fedper", "fedamp", "fedsaf"));

}  // namespace
}  // namespace fedsaf
