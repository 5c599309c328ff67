#pragma once
// This machine's float32 GEMM rate through LibTorch on the calling thread's settings: the
// yardstick every benchmark divides by (bench_sgemm prints it alone; bench_pairwise and
// bench_forward measure it in their own process, next to what they time).
#include <torch/torch.h>

#include <algorithm>
#include <chrono>

namespace fedsaf::bench {

// Best of `repeats` timings of torch::mm_out on n×n matrices after one warm-up; seconds via *best.
inline double sgemm_gflops(int64_t n, int repeats, double* best_seconds = nullptr) {
  const torch::Tensor a = torch::randn({n, n}), b = torch::randn({n, n});  // [n, n] each
  torch::Tensor c = torch::mm(a, b);                                        // [n, n] warm-up
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    torch::mm_out(c, a, b);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (best_seconds != nullptr) *best_seconds = best;
  return 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) / best / 1e9;
}

}  // namespace fedsaf::bench
