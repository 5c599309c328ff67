// The GPU paths, on a real GPU (label `gpu`; run under mpirun at 1 and 2 ranks). Without a visible
// GPU the whole binary exits 77 and CTest reports it skipped. On a one-GPU machine the 2-rank
// runs share that GPU. What the tests hold the GPU to (README "On GPUs and clusters"):
//   * same config, same GPU, same rank count: bit-identical results;
//   * GPU vs CPU: final parameters within kCpuGpuParamTol, pooled accuracy within kCpuGpuAccTol;
//   * state spilled to pinned host memory by a small budget: bit-identical to state on the GPU.
#include <gtest/gtest.h>
#include <mpi.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "io/h5.hpp"
#include "mpi/mpi_communicator.hpp"
#include "sim/device.hpp"
#include "sim/engine.hpp"
#include "tests/checkpoint/resume_support.hpp"
#include "tests/engine/engine_test_support.hpp"

const char* fedsaf_test_skip_reason() {
  return torch::cuda::is_available() ? "" : "no GPU visible to LibTorch (a CPU-only build, no driver or no device)";
}

namespace fedsaf {
namespace {

constexpr double kCpuGpuParamTol = 1e-3;  // max |θ_cpu − θ_gpu| after the small runs below
constexpr double kCpuGpuAccTol = 0.02;    // pooled test accuracy, absolute

// test::small_config with a split MLP (exercises the Fisher and the private layers) on `device`.
Config gpu_config(const std::string& algorithm, const std::string& device, std::vector<std::string> extra = {}) {
  std::vector<std::string> overrides = {"model.name=mlp", "model.hidden=[16]", "model.n_head=1",
                                        "run.checkpoint_every=2", "run.device=" + device};
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  return test::small_config(algorithm, overrides);
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, std::fabs(double(a[i]) - double(b[i])));
  return d;
}

TEST(GpuDevice, EachLocalRankTakesItsGpuModuloTheVisibleOnes) {
  MpiCommunicator world(MPI_COMM_WORLD);
  const int gpus = static_cast<int>(torch::cuda::device_count());
  const DeviceChoice choice = select_device("auto", world.local_rank(), world.local_size(), 64);
  ASSERT_TRUE(choice.device.is_cuda());
  EXPECT_EQ(choice.device.index(), world.local_rank() % gpus);
  EXPECT_EQ(choice.ranks_sharing, (world.local_size() - world.local_rank() % gpus + gpus - 1) / gpus);
}

TEST(GpuData, TheDataSetLivesOnTheGpuAsUint8AndBatchesMatchTheCpu) {
  const Dataset cpu = load_dataset(default_config({"data.dataset=synthetic", "run.clients=4"}));
  const torch::Device gpu(torch::kCUDA, 0);
  const Dataset on_gpu = cpu.on(gpu);
  EXPECT_TRUE(on_gpu.x.is_cuda());
  EXPECT_TRUE(on_gpu.y.is_cuda());
  EXPECT_EQ(on_gpu.x.scalar_type(), cpu.x.scalar_type());  // no float copy of the whole set
  const torch::Tensor idx = torch::tensor({3, 0, 7, 7}, torch::kInt64);  // [4]
  const torch::Tensor a = cpu.batch(idx);                                 // [4, D]
  const torch::Tensor b = on_gpu.batch(idx.to(gpu));                      // [4, D] on the GPU
  EXPECT_TRUE(b.is_cuda());
  EXPECT_TRUE(torch::equal(a, b.cpu()));
}

TEST(GpuComm, CudaTensorsReduceThroughPinnedStaging) {
  MpiCommunicator world(MPI_COMM_WORLD);
  world.set_cuda_aware(false);
  const torch::Tensor t = torch::full({1000}, world.rank() + 1.0, torch::TensorOptions().device(torch::kCUDA));  // [1000]
  world.allreduce_sum(t);
  const double expected = world.size() * (world.size() + 1) / 2.0;
  EXPECT_TRUE(t.is_cuda());
  EXPECT_EQ(t.min().item<double>(), expected);
  EXPECT_EQ(t.max().item<double>(), expected);
}

class GpuRuns : public ::testing::TestWithParam<std::string> {};

TEST_P(GpuRuns, RerunsOnTheGpuAreBitIdenticalAndAgreeWithTheCpuWithinTolerance) {
  MpiCommunicator world(MPI_COMM_WORLD);
  const RunResult a = test::run_quiet(gpu_config(GetParam(), "cuda"), world);
  const RunResult b = test::run_quiet(gpu_config(GetParam(), "cuda"), world);
  const RunResult cpu = test::run_quiet(gpu_config(GetParam(), "cpu"), world);
  EXPECT_EQ(a.final_params, b.final_params);
  EXPECT_EQ(a.summary.best_accuracy, b.summary.best_accuracy);
  // Rank-count invariance holds on the GPU too (at 2 ranks both may share one GPU).
  const test::Reference one_rank = test::single_rank_reference(gpu_config(GetParam(), "cuda"), world);
  EXPECT_LE(max_abs_diff(a.final_params, one_rank.params), 1e-5);
  EXPECT_LE(max_abs_diff(a.final_params, cpu.final_params), kCpuGpuParamTol);
  EXPECT_NEAR(a.summary.last_accuracy, cpu.summary.last_accuracy, kCpuGpuAccTol);
}

TEST_P(GpuRuns, ASmallStateBudgetSpillsToHostMemoryWithUnchangedResults) {
  MpiCommunicator world(MPI_COMM_WORLD);
  test::SharedDir dir(world);
  const RunResult on_gpu = test::run_into(gpu_config(GetParam(), "cuda"), dir / "gpu", world);
  // 1 KiB: the first client's state at most stays on the GPU, the rest goes to pinned host memory.
  const RunResult spilled =
      test::run_into(gpu_config(GetParam(), "cuda", {"run.device_state_mb=0.001"}), dir / "spilled", world);
  EXPECT_EQ(on_gpu.final_params, spilled.final_params);
  EXPECT_EQ(on_gpu.summary.best_accuracy, spilled.summary.best_accuracy);
  if (world.rank() == 0 && GetParam() != "fedavg") {  // fedavg keeps no per-client state
    const h5::File f = h5::File::open(dir / "spilled/run.h5", h5::Mode::kRead);
    const std::vector<int64_t> host = f.open_dataset("ranks/state_host_bytes").read<int64_t>();
    EXPECT_GT(*std::max_element(host.begin(), host.end()), 0);
  }
}

TEST_P(GpuRuns, ACheckpointWrittenOnTheGpuResumesOnTheCpuAndBack) {
  MpiCommunicator world(MPI_COMM_WORLD);
  test::SharedDir dir(world);
  const RunResult whole = test::run_into(gpu_config(GetParam(), "cuda", {"run.rounds=6"}), dir / "whole", world);
  // Rounds 1–2 on the GPU, 3–4 on the CPU, 5–6 on the GPU again.
  test::run_into(gpu_config(GetParam(), "cuda", {"run.rounds=2"}), dir / "moved", world);
  test::run_into(gpu_config(GetParam(), "cpu", {"run.rounds=4"}), dir / "moved", world, test::newest(dir / "moved", world));
  const RunResult moved = test::run_into(gpu_config(GetParam(), "cuda", {"run.rounds=6"}), dir / "moved", world,
                                         test::newest(dir / "moved", world));
  EXPECT_EQ(moved.first_round, 4);
  EXPECT_LE(max_abs_diff(moved.final_params, whole.final_params), kCpuGpuParamTol);
  EXPECT_NEAR(moved.summary.last_accuracy, whole.summary.last_accuracy, kCpuGpuAccTol);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, GpuRuns, ::testing::Values("fedavg", "fedamp", "fedsaf"));

}  // namespace
}  // namespace fedsaf
