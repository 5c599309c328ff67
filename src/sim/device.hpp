#pragma once
// Which device a rank trains on. One GPU per rank, several ranks per GPU allowed: a rank takes GPU
// (node-local rank mod visible GPUs), so ranks spread round-robin over a node's GPUs.
#include <torch/torch.h>

#include <functional>
#include <string>

namespace fedsaf {

// The rank's place on its node. Launchers export it (Open MPI's mpirun, MPICH/Hydra, PMIx,
// Slurm's srun); MPI's own node split is the fallback. Order matters: inside an sbatch allocation
// SLURM_LOCALID is the batch step's (0 for every rank mpirun starts), so the MPI launcher's
// variables come first. `getenv` is std::getenv except in tests.
int node_local_rank(int mpi_local_rank, const std::function<const char*(const char*)>& getenv = nullptr);

struct DeviceChoice {
  torch::Device device = torch::kCPU;
  int ranks_sharing = 1;  // ranks of this node on the same GPU (1 on the CPU)
  std::string warning;    // non-empty when more ranks share the GPU than allowed without a warning
};

// The pure rule, testable without a GPU: `requested` is run.device (auto | cpu | cuda);
// gpus = visible GPUs (0 without CUDA); local_rank / local_size = this rank's place on its node;
// max_ranks_per_gpu = the number of ranks per GPU above which `warning` is set.
// Throws ConfigError for run.device = cuda without a GPU.
DeviceChoice choose_device(const std::string& requested, int gpus, int local_rank, int local_size,
                           int max_ranks_per_gpu);

// choose_device() with this process's visible GPUs. On a GPU it also makes the GPU current and
// selects deterministic cuDNN algorithms (see README "On GPUs and clusters").
DeviceChoice select_device(const std::string& requested, int local_rank, int local_size, int max_ranks_per_gpu);

}  // namespace fedsaf
