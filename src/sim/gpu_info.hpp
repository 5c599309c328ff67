#pragma once
// What this build of fedsaf can run on: the LibTorch and CUDA versions it was built with and the
// GPUs this process sees (for `fedsaf --version`, the run log and the GPU check script).
#include <cstdint>
#include <string>
#include <vector>

namespace fedsaf {

struct GpuInfo {
  int index = 0;
  std::string name;                  // e.g. "NVIDIA H200"
  int64_t total_bytes = 0;           // device memory
  int compute_major = 0, compute_minor = 0;
};

// "LibTorch 2.15.0 (CUDA 13.2, cuDNN 9.26.0; driver supports CUDA 13.0)" (or "; no CUDA driver"),
// or "LibTorch 1.13.0 (CPU only)".
std::string torch_build_text();
// The GPUs CUDA reports to this process (empty without CUDA, a driver or a GPU).
std::vector<GpuInfo> visible_gpus();
// One line per GPU ("GPU 0: NVIDIA H200, 139.8 GiB, compute capability 9.0"), or "GPUs: none visible".
std::string gpus_text();

}  // namespace fedsaf
