// A client-state budget (run.device_state_mb, then run.host_state_mb with run.state_dir) moves
// state off the device, then out of memory, without changing a single result, and the run file records where each rank's state lived (/ranks). On the CPU the
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
  // Beyond 100 bytes of host memory too (less than any row): the disk tier, in a scratch file of
  // the state folder.
  std::vector<std::string> on_disk = tiny;
  on_disk.push_back("run.host_state_mb=0.0001");
  on_disk.push_back("run.state_dir=" + dir / "");
  const RunResult disk = test::run_into(test::small_config(GetParam(), on_disk), dir / "disk", world);
  EXPECT_EQ(unlimited.final_params, disk.final_params);
  EXPECT_EQ(unlimited.summary.best_accuracy, disk.summary.best_accuracy);
  EXPECT_EQ(unlimited.summary.mean_last10, disk.summary.mean_last10);
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
  EXPECT_EQ(sum(column("all", "state_disk_bytes")) + sum(column("spilled", "state_disk_bytes")), 0);
  EXPECT_GT(sum(column("disk", "state_disk_bytes")), 0);
  EXPECT_EQ(sum(column("all", "state_device_bytes")), sum(column("disk", "state_device_bytes")) +
                                                          sum(column("disk", "state_host_bytes")) +
                                                          sum(column("disk", "state_disk_bytes")));
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
