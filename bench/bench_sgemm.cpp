// This machine's single-thread float32 GEMM rate through LibTorch (torch::mm on n×n matrices, the
// best of `repeats` timings after one warm-up): the yardstick the other benchmarks divide by.
// Usage: bench_sgemm [n=2048] [repeats=5]; prints "sgemm n=2048: 97.3 ms, GFLOP/s 88.2".
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::stoll(argv[1]) : 2048;
  const int repeats = argc > 2 ? std::stoi(argv[2]) : 5;
  torch::set_num_threads(1);
  torch::manual_seed(0);
  const torch::Tensor a = torch::randn({n, n}), b = torch::randn({n, n});  // [n, n] each
  torch::Tensor c = torch::mm(a, b);                                        // [n, n] warm-up
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    torch::mm_out(c, a, b);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("sgemm n=%lld: %.1f ms, GFLOP/s %.1f\n", static_cast<long long>(n), best * 1e3,
              2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) / best / 1e9);
  return 0;
}
