#include "sim/device.hpp"

#include <fmt/format.h>

#include "core/errors.hpp"

namespace fedsaf {

torch::Device select_device(const std::string& requested, int local_rank) {
  const bool have_cuda = torch::cuda::is_available();
  if (requested == "cuda" && !have_cuda)
    throw ConfigError("run.device = \"cuda\" but this LibTorch build has no CUDA or no GPU is visible");
  if (requested != "cpu" && have_cuda) {
    const int gpus = static_cast<int>(torch::cuda::device_count());
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank % gpus));
  }
  return torch::Device(torch::kCPU);
}

}  // namespace fedsaf
