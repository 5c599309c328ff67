#include "algo/client_memory.hpp"

#include <cmath>

namespace fedsaf {

ClientMemory::ClientMemory(torch::Device device, int64_t budget_bytes) : device_(device), budget_(budget_bytes) {}

torch::Tensor ClientMemory::keep(const torch::Tensor& value) {
  const int64_t bytes = value.numel() * static_cast<int64_t>(value.element_size());
  if (budget_ < 0 || device_bytes_ + bytes <= budget_) {
    device_bytes_ += bytes;
    return value.to(value.options().device(device_), /*non_blocking=*/false, /*copy=*/true);
  }
  host_bytes_ += bytes;
  // Pinned pages only where a GPU copies from them; on a CPU run "spilled" state is plain memory.
  auto options = value.options().device(torch::kCPU).pinned_memory(device_.is_cuda());
  torch::Tensor host = torch::empty(value.sizes(), options);  // [as value]
  host.copy_(value);
  return host;
}

int64_t client_state_budget(double configured_mb, const torch::Device& device, int64_t gpu_bytes, int ranks_sharing) {
  if (configured_mb > 0) return static_cast<int64_t>(std::llround(configured_mb * 1024.0 * 1024.0));
  if (!device.is_cuda()) return -1;
  return static_cast<int64_t>(0.4 * static_cast<double>(gpu_bytes) / std::max(ranks_sharing, 1));
}

}  // namespace fedsaf
