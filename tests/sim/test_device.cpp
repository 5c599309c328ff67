// Device choice per rank, the rule behind `run.device` (no GPU needed: the rule is a pure function
// of the visible GPU count and the rank's place on its node), and the node-local rank launchers
// export.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "core/errors.hpp"
#include "sim/device.hpp"

namespace fedsaf {
namespace {

TEST(ChooseDevice, CpuWhenAskedOrWhenNoGpuIsVisible) {
  for (const char* requested : {"cpu", "auto"}) {
    const DeviceChoice c = choose_device(requested, requested == std::string("cpu") ? 4 : 0, 1, 2, 4);
    EXPECT_TRUE(c.device.is_cpu()) << requested;
    EXPECT_EQ(c.ranks_sharing, 1);
    EXPECT_TRUE(c.warning.empty());
  }
}

TEST(ChooseDevice, CudaWithoutAGpuIsAConfigErrorThatSaysWhatToDo) {
  try {
    choose_device("cuda", 0, 0, 1, 4);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("run.device = \"cuda\" but no GPU is visible"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("\"auto\""), std::string::npos) << e.what();
  }
  EXPECT_THROW(choose_device("gpu", 1, 0, 1, 4), ConfigError);
}

TEST(ChooseDevice, LocalRanksGoRoundRobinOverTheNodesGpus) {
  // 5 ranks on a node with 2 GPUs: GPU 0 gets local ranks 0, 2, 4; GPU 1 gets 1, 3.
  const int expected_gpu[] = {0, 1, 0, 1, 0};
  const int expected_sharing[] = {3, 2, 3, 2, 3};
  for (int r = 0; r < 5; ++r) {
    const DeviceChoice c = choose_device("auto", 2, r, 5, 4);
    ASSERT_TRUE(c.device.is_cuda());
    EXPECT_EQ(c.device.index(), expected_gpu[r]) << "local rank " << r;
    EXPECT_EQ(c.ranks_sharing, expected_sharing[r]) << "local rank " << r;
  }
}

TEST(ChooseDevice, WarnsOnlyAboveTheRanksPerGpuCap) {
  EXPECT_TRUE(choose_device("cuda", 1, 0, 4, 4).warning.empty());  // 4 ranks share, cap 4
  const DeviceChoice c = choose_device("cuda", 1, 0, 5, 4);          // 5 ranks share, cap 4
  EXPECT_EQ(c.ranks_sharing, 5);
  EXPECT_NE(c.warning.find("5 ranks share GPU 0"), std::string::npos) << c.warning;
  EXPECT_NE(c.warning.find("run.max_ranks_per_gpu = 4"), std::string::npos) << c.warning;
}

TEST(NodeLocalRank, TheMpiLaunchersVariableWinsOverSlurmsAndMpisSplitIsTheFallback) {
  std::map<std::string, std::string> env;
  const auto getenv = [&](const char* name) -> const char* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  EXPECT_EQ(node_local_rank(3, getenv), 3);  // nothing exported: MPI's own node split
  env["SLURM_LOCALID"] = "2";                // srun
  EXPECT_EQ(node_local_rank(3, getenv), 2);
  env["OMPI_COMM_WORLD_LOCAL_RANK"] = "1";   // mpirun inside an sbatch script: SLURM_LOCALID is the batch step's
  EXPECT_EQ(node_local_rank(3, getenv), 1);
  env["OMPI_COMM_WORLD_LOCAL_RANK"] = "x1";  // not a number: skipped
  EXPECT_EQ(node_local_rank(3, getenv), 2);
  env["MPI_LOCALRANKID"] = "0";              // MPICH / Hydra
  EXPECT_EQ(node_local_rank(3, getenv), 0);
}

}  // namespace
}  // namespace fedsaf
