#include "sim/device.hpp"

#include <fmt/format.h>

#include <cstdlib>

#include "core/errors.hpp"

namespace fedsaf {

int node_local_rank(int mpi_local_rank, const std::function<const char*(const char*)>& getenv) {
  const auto get = getenv ? getenv : [](const char* name) -> const char* { return std::getenv(name); };
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "PMIX_LOCAL_RANK", "SLURM_LOCALID"}) {
    const char* value = get(name);
    if (value == nullptr || *value == '\0') continue;
    char* end = nullptr;
    const long rank = std::strtol(value, &end, 10);
    if (*end == '\0' && rank >= 0) return static_cast<int>(rank);
  }
  return mpi_local_rank;
}

DeviceChoice choose_device(const std::string& requested, int gpus, int local_rank, int local_size,
                           int max_ranks_per_gpu) {
  if (requested != "auto" && requested != "cpu" && requested != "cuda")
    throw ConfigError(fmt::format("run.device = \"{}\": expected auto, cpu or cuda", requested));
  if (requested == "cuda" && gpus <= 0)
    throw ConfigError(
        "run.device = \"cuda\" but no GPU is visible (this LibTorch has no CUDA, or CUDA_VISIBLE_DEVICES hides "
        "every GPU); use run.device = \"auto\" to fall back to the CPU");
  DeviceChoice choice;
  if (requested == "cpu" || gpus <= 0) return choice;
  const int gpu = local_rank % gpus;
  choice.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(gpu));
  // Local ranks r with r mod gpus == gpu: ⌈(local_size − gpu) / gpus⌉.
  choice.ranks_sharing = local_size > gpu ? (local_size - gpu + gpus - 1) / gpus : 1;
  if (choice.ranks_sharing > max_ranks_per_gpu)
    choice.warning = fmt::format(
        "{} ranks share GPU {} ({} GPU(s) visible to {} rank(s) on this node), more than run.max_ranks_per_gpu = {}: "
        "they compete for its memory and compute",
        choice.ranks_sharing, gpu, gpus, local_size, max_ranks_per_gpu);
  return choice;
}

DeviceChoice select_device(const std::string& requested, int local_rank, int local_size, int max_ranks_per_gpu) {
  const int gpus = torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
  DeviceChoice choice = choose_device(requested, gpus, local_rank, local_size, max_ranks_per_gpu);
  if (choice.device.is_cuda()) {
    // The rank's GPU becomes current for the whole run, so that nothing (pinned host memory, the
    // CUDA context) lands on GPU 0 by default.
    c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->setDevice(choice.device);
    // Bit-identical reruns on the same GPU: deterministic cuDNN algorithms, no autotuning, and
    // deterministic kernels where LibTorch has them (a warning, not an error, where it has none).
    // cuBLAS needs a fixed workspace for that; the user's own setting wins.
    setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", 0);
    at::globalContext().setBenchmarkCuDNN(false);
    at::globalContext().setDeterministicCuDNN(true);
    at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/true);
    at::globalContext().setAllowTF32CuBLAS(false);  // float32 matrix products in float32, as on the CPU
    at::globalContext().setAllowTF32CuDNN(false);
  }
  return choice;
}

}  // namespace fedsaf
