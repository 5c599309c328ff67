// This machine's single-thread float32 GEMM rate through LibTorch (torch::mm on n×n matrices, the
// best of `repeats` timings after one warm-up): the yardstick the other benchmarks divide by.
// Usage: bench_sgemm [n=2048] [repeats=5]; prints "sgemm n=2048: 97.3 ms, GFLOP/s 88.2".
#include <torch/torch.h>

#include <cstdio>
#include <string>

#include "sgemm_rate.hpp"

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::stoll(argv[1]) : 2048;
  const int repeats = argc > 2 ? std::stoi(argv[2]) : 5;
  torch::set_num_threads(1);
  torch::manual_seed(0);
  double best = 0;
  const double gflops = fedsaf::bench::sgemm_gflops(n, repeats, &best);
  std::printf("sgemm n=%lld: %.1f ms, GFLOP/s %.1f\n", static_cast<long long>(n), best * 1e3, gflops);
  return 0;
}
