#pragma once
#include <torch/torch.h>

#include <string>

namespace fedsaf {
// The device a rank trains on: "cuda:<local_rank mod GPUs>" when LibTorch has CUDA and the config
// allows it (run.device = auto | cuda), else the CPU. run.device = cuda without CUDA is an error.
torch::Device select_device(const std::string& requested, int local_rank);
}  // namespace fedsaf
