// Forward-pass rates of a zoo model under the ways LibTorch can run it without gradients (no-grad,
// inference mode, oneDNN off, channels-last input), per batch size 16..max_batch, after this
// machine's single-thread SGEMM rate measured in the same process (evaluation chose its
// automatic batch size, run.eval_batch_size, from these).
// Usage: bench_forward [model=cnn] [shape=1,28,28] [max_batch=1024]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <sstream>
#include <string>

#include "core/config.hpp"
#include "model/model.hpp"
#include "sgemm_rate.hpp"

using namespace fedsaf;
using Clock = std::chrono::steady_clock;

namespace {

double best_seconds(const std::function<void()>& f, int repeats) {
  f();
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  torch::set_num_threads(1);
  ModelConfig config;
  config.name = argc > 1 ? argv[1] : "cnn";
  std::vector<int64_t> shape = {1, 28, 28};
  if (argc > 2) {
    shape.clear();
    std::stringstream s(argv[2]);
    for (std::string part; std::getline(s, part, ',');) shape.push_back(std::stoll(part));
  }
  auto model = make_model(config, shape, 10, 1);
  model->train(false);

  std::printf("sgemm GFLOP/s %.1f\n", bench::sgemm_gflops(1024, 5));

  const int64_t max_batch = argc > 3 ? std::stoll(argv[3]) : 1024;
  for (int64_t batch : {16, 64, 128, 256, 512, 1024}) {
    if (batch > max_batch) break;
    std::vector<int64_t> xs = {batch};
    xs.insert(xs.end(), shape.begin(), shape.end());
    const torch::Tensor x = torch::randn(xs);  // [B, ...]
    const int repeats = static_cast<int>(std::max<int64_t>(2, 1024 / batch));
    auto rate = [&](const char* label, const std::function<void()>& f) {
      const double s = best_seconds(f, repeats);
      std::printf("  B=%-5lld %-28s %8.3f ms  %7.0f samples/s\n", static_cast<long long>(batch), label, s * 1e3,
                  static_cast<double>(batch) / s);
    };
    rate("no_grad", [&] {
      torch::NoGradGuard g;
      model->forward(x);
    });
    rate("inference_mode", [&] {
      c10::InferenceMode g;
      model->forward(x);
    });
    rate("no_grad, no mkldnn", [&] {
      torch::NoGradGuard g;
      at::globalContext().setUserEnabledMkldnn(false);
      model->forward(x);
      at::globalContext().setUserEnabledMkldnn(true);
    });
    const torch::Tensor xc = x.dim() == 4 ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
    rate("inference, channels_last", [&] {
      c10::InferenceMode g;
      model->forward(xc);
    });
  }
  return 0;
}
