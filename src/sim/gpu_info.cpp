#include "sim/gpu_info.hpp"

#include <ATen/detail/CUDAHooksInterface.h>
#include <fmt/format.h>
#include <torch/version.h>

#include "fedsaf/build_info.hpp"  // FEDSAF_WITH_CUDA

#if FEDSAF_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace fedsaf {

namespace {
// 13020 → "13.2"; cuDNN 92600 → "9.26.0" (cuDNN ≥ 9 packs major·10000 + minor·100 + patch).
std::string cuda_version(long v) { return fmt::format("{}.{}", v / 1000, (v % 1000) / 10); }
std::string cudnn_version(long v) {
  return v >= 90000 ? fmt::format("{}.{}.{}", v / 10000, (v % 10000) / 100, v % 100)
                    : fmt::format("{}.{}.{}", v / 1000, (v % 1000) / 100, v % 100);
}
}  // namespace

std::string torch_build_text() {
#if FEDSAF_WITH_CUDA
  const auto& hooks = at::detail::getCUDAHooks();
  std::string text = fmt::format("LibTorch {} (CUDA {}", TORCH_VERSION, cuda_version(hooks.versionCUDART()));
  if (hooks.compiledWithCuDNN()) text += ", cuDNN " + cudnn_version(hooks.versionCuDNN());
  int driver = 0;
  if (cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0) text += "; driver supports CUDA " + cuda_version(driver);
  else text += "; no CUDA driver";
  return text + ")";
#else
  return fmt::format("LibTorch {} (CPU only)", TORCH_VERSION);
#endif
}

std::vector<GpuInfo> visible_gpus() {
  std::vector<GpuInfo> gpus;
#if FEDSAF_WITH_CUDA
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device / no driver" error
    return gpus;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    gpus.push_back({i, prop.name, static_cast<int64_t>(prop.totalGlobalMem), prop.major, prop.minor});
  }
#endif
  return gpus;
}

std::string gpus_text() {
  const std::vector<GpuInfo> gpus = visible_gpus();
  if (gpus.empty()) return "GPUs: none visible";
  std::string text;
  for (const GpuInfo& g : gpus)
    text += fmt::format("{}GPU {}: {}, {:.1f} GiB, compute capability {}.{}", text.empty() ? "" : "\n", g.index, g.name,
                        static_cast<double>(g.total_bytes) / (1 << 30), g.compute_major, g.compute_minor);
  return text;
}

}  // namespace fedsaf
