// Where per-client state lives: on the device while the budget lasts, then in host memory; the
// kept values are exact copies either way, and the byte counts say where everything went.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "algo/client_memory.hpp"
#include "tests/common/test_support.hpp"

namespace fedsaf {
namespace {

TEST(ClientMemory, KeepsOnTheDeviceUpToTheBudgetThenSpillsToTheHost) {
  ClientMemory memory(torch::kCPU, 100);  // bytes
  const torch::Tensor a = torch::arange(10, torch::kFloat32);  // [10] 40 bytes
  const torch::Tensor b = torch::arange(12, torch::kFloat64);  // [12] 96 bytes: over the 60 left
  const torch::Tensor c = torch::arange(5, torch::kInt64);     // [5] 40 bytes: fits in the 60 left
  const torch::Tensor ka = memory.keep(a), kb = memory.keep(b), kc = memory.keep(c);
  EXPECT_EQ(memory.device_bytes(), 80);
  EXPECT_EQ(memory.host_bytes(), 96);
  for (const auto& [kept, value] : {std::pair{ka, a}, std::pair{kb, b}, std::pair{kc, c}}) {
    EXPECT_TRUE(torch::equal(kept, value));
    EXPECT_EQ(kept.scalar_type(), value.scalar_type());
    EXPECT_NE(kept.data_ptr(), value.data_ptr());  // a copy: the caller's tensor may change later
  }
}

TEST(ClientMemory, ANegativeBudgetKeepsEverythingOnTheDevice) {
  ClientMemory memory(torch::kCPU, -1);
  memory.keep(torch::zeros({1 << 16}));  // [65536] float32
  EXPECT_EQ(memory.device_bytes(), 4 << 16);
  EXPECT_EQ(memory.host_bytes(), 0);
}

TEST(ClientMemory, BeyondTheHostBudgetGoesToAnUnlinkedScratchFileWithExactValues) {
  const test::TempDir dir("fedsaf-state");
  {
    ClientMemory memory(torch::kCPU, ClientMemoryBudget{40, 48, dir.str()});  // bytes
    const torch::Tensor a = torch::arange(10, torch::kFloat32);    // [10] 40 bytes: the device
    const torch::Tensor b = torch::arange(12, torch::kFloat32);    // [12] 48 bytes: the host
    const torch::Tensor c = torch::arange(1000, torch::kFloat64);  // [1000] 8000 bytes: disk
    const torch::Tensor d = torch::arange(5, torch::kInt64);       // [5] 40 bytes: the host is full, disk
    const torch::Tensor ka = memory.keep(a), kb = memory.keep(b), kc = memory.keep(c), kd = memory.keep(d);
    EXPECT_EQ(memory.device_bytes(), 40);
    EXPECT_EQ(memory.host_bytes(), 48);
    EXPECT_EQ(memory.disk_bytes(), 8040);
    EXPECT_FALSE(memory.on_disk(ka) || memory.on_disk(kb));
    EXPECT_TRUE(memory.on_disk(kc) && memory.on_disk(kd));
    for (const auto& [kept, value] : {std::pair{ka, a}, std::pair{kb, b}, std::pair{kc, c}, std::pair{kd, d}}) {
      EXPECT_TRUE(torch::equal(kept, value));
      EXPECT_EQ(kept.scalar_type(), value.scalar_type());
    }
    torch::Tensor writable = kc;
    writable.copy_(torch::full({1000}, 2.5, torch::kFloat64));
    memory.release(kc);  // dropped from the resident pages, still in the file
    memory.prefetch(kc);
    EXPECT_TRUE(torch::equal(kc, torch::full({1000}, 2.5, torch::kFloat64)));
    EXPECT_TRUE(std::filesystem::is_empty(dir.path)) << "the scratch file is unlinked at once";
  }
}

TEST(ClientMemory, AStateDirThatCannotHoldAFileIsNamed) {
  const std::string message =
      test::error_of([] { ClientMemory memory(torch::kCPU, ClientMemoryBudget{0, 0, "/nonexistent/scratch"}); });
  EXPECT_NE(message.find("run.state_dir '/nonexistent/scratch': cannot create a scratch file"), std::string::npos)
      << message;
}

TEST(ClientStateBudget, HostBudgetConfiguredElseHalfTheAvailableMemoryWithADiskTierElseNoLimit) {
  EXPECT_EQ(client_state_host_budget(2, "", 0, 1), 2 << 20);
  EXPECT_EQ(client_state_host_budget(0, "", int64_t{8} << 30, 1), -1);
  EXPECT_EQ(client_state_host_budget(0, "/scratch", int64_t{8} << 30, 4), int64_t{1} << 30);  // 8 GiB / 2 / 4
}

TEST(ClientStateBudget, ConfiguredMegabytesElseAShareOfTheGpuElseNoLimit) {
  const torch::Device gpu(torch::kCUDA, 0);
  EXPECT_EQ(client_state_budget(1.5, torch::kCPU, 0, 1, ""), 1572864);  // 1.5 MiB, on any device
  EXPECT_EQ(client_state_budget(0, torch::kCPU, 0, 1, ""), -1);         // automatic on the CPU: no limit
  const int64_t gib80 = int64_t{80} << 30;
  EXPECT_EQ(client_state_budget(0, gpu, gib80, 1, ""), static_cast<int64_t>(0.4 * static_cast<double>(gib80)));
  EXPECT_EQ(client_state_budget(0, gpu, gib80, 4, "/scratch"), static_cast<int64_t>(0.4 * static_cast<double>(gib80) / 4));
}

// On the CPU the device is host memory: with run.state_dir and automatic budgets, what exceeds
// the host budget must reach the disk (it stayed in memory before: the device took everything).
TEST(ClientStateBudget, OnTheCpuWithADiskTierTheHostBudgetDecides) {
  EXPECT_EQ(client_state_budget(0, torch::kCPU, 0, 1, "/scratch"), 0);
  EXPECT_EQ(client_state_budget(2, torch::kCPU, 0, 1, "/scratch"), 2 << 20);  // configured: as asked
  const test::TempDir dir("fedsaf-budget");
  const int64_t host = client_state_host_budget(0, dir.str(), int64_t{64} << 10, 1);  // half of 64 KiB "available"
  ClientMemory memory(torch::kCPU,
                      ClientMemoryBudget{client_state_budget(0, torch::kCPU, 0, 1, dir.str()), host, dir.str()});
  for (int i = 0; i < 8; ++i) memory.keep(torch::ones({2048}));  // 8 × 8 KiB
  EXPECT_EQ(memory.device_bytes(), 0);
  EXPECT_EQ(memory.host_bytes(), int64_t{32} << 10);
  EXPECT_EQ(memory.disk_bytes(), int64_t{32} << 10);
}

}  // namespace
}  // namespace fedsaf
