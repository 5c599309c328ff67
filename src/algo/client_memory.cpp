#include "algo/client_memory.hpp"

#include <algorithm>
#include <cmath>

#include "algo/disk_arena.hpp"

namespace fedsaf {

namespace {
int64_t bytes_of(const torch::Tensor& t) { return t.numel() * static_cast<int64_t>(t.element_size()); }
}  // namespace

ClientMemory::ClientMemory(torch::Device device, ClientMemoryBudget budget) : device_(device), budget_(std::move(budget)) {
  if (!budget_.state_dir.empty()) arena_ = std::make_unique<DiskArena>(budget_.state_dir);
}

ClientMemory::~ClientMemory() = default;

torch::Tensor ClientMemory::keep(const torch::Tensor& value) {
  const int64_t bytes = bytes_of(value);
  if (budget_.device_bytes < 0 || device_bytes_ + bytes <= budget_.device_bytes) {
    device_bytes_ += bytes;
    return value.to(value.options().device(device_), /*non_blocking=*/false, /*copy=*/true);
  }
  if (!arena_ || budget_.host_bytes < 0 || host_bytes_ + bytes <= budget_.host_bytes) {
    host_bytes_ += bytes;
    // Pinned pages only where a GPU copies from them; on a CPU run "spilled" state is plain memory.
    auto options = value.options().device(torch::kCPU).pinned_memory(device_.is_cuda());
    torch::Tensor host = torch::empty(value.sizes(), options);  // [as value]
    host.copy_(value);
    return host;
  }
  disk_bytes_ += bytes;
  // The arena owns the bytes (no deleter): they live as long as this ClientMemory.
  torch::Tensor disk = torch::from_blob(arena_->allocate(bytes), value.sizes(), value.options().device(torch::kCPU));
  disk.copy_(value);
  release(disk);
  return disk;
}

bool ClientMemory::on_disk(const torch::Tensor& kept) const { return arena_ && arena_->owns(kept.data_ptr()); }

void ClientMemory::prefetch(const torch::Tensor& kept) const {
  if (on_disk(kept)) DiskArena::will_need(kept.data_ptr(), bytes_of(kept));
}

void ClientMemory::release(const torch::Tensor& kept) const {
  if (on_disk(kept)) DiskArena::dont_need(kept.data_ptr(), bytes_of(kept));
}

int64_t client_state_budget(double configured_mb, const torch::Device& device, int64_t gpu_bytes, int ranks_sharing,
                            const std::string& state_dir) {
  if (configured_mb > 0) return static_cast<int64_t>(std::llround(configured_mb * 1024.0 * 1024.0));
  // On the CPU the device is host memory: with a disk tier the host budget governs it.
  if (!device.is_cuda()) return state_dir.empty() ? -1 : 0;
  return static_cast<int64_t>(0.4 * static_cast<double>(gpu_bytes) / std::max(ranks_sharing, 1));
}

int64_t client_state_host_budget(double configured_mb, const std::string& state_dir, int64_t available_bytes,
                                 int node_ranks) {
  if (configured_mb > 0) return static_cast<int64_t>(std::llround(configured_mb * 1024.0 * 1024.0));
  if (state_dir.empty()) return -1;
  return static_cast<int64_t>(0.5 * static_cast<double>(available_bytes) / std::max(node_ranks, 1));
}

}  // namespace fedsaf
