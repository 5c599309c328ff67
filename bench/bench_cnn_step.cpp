// The zoo CNN's training step (forward, cross-entropy, backward) and its no-grad forward, as the
// engine runs them (src/model/zoo.cpp: a one-channel first convolution as an im2col GEMM in
// channels-last, pooling before the ReLU) against the textbook LibTorch form with the same
// parameters (conv2d, max_pool2d(relu(x))), in one process, alternating, best of several
// repeats; GFLOP/s as a share of this machine's single-core SGEMM rate measured first.
// Usage: bench_cnn_step [shape=1,28,28] [repeats=7]
#include <fmt/format.h>
#include <fmt/ranges.h>
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

int main(int argc, char** argv) {
  torch::set_num_threads(1);
  std::vector<int64_t> shape = {1, 28, 28};
  if (argc > 1) {
    shape.clear();
    std::stringstream s(argv[1]);
    for (std::string part; std::getline(s, part, ',');) shape.push_back(std::stoll(part));
  }
  const int repeats = argc > 2 ? std::stoi(argv[2]) : 7;
  ModelConfig config;
  config.name = "cnn";
  auto model = make_model(config, shape, 10, 1);
  const std::vector<torch::Tensor> p = model->parameters();  // conv1 w, b; conv2 w, b; fc1 w, b; fc w, b
  const auto textbook = [&](const torch::Tensor& x) {        // x [B, C, H, W] → [B, 10]
    torch::Tensor h = torch::max_pool2d(torch::relu(torch::conv2d(x, p[0], p[1])), 2);
    h = torch::max_pool2d(torch::relu(torch::conv2d(h, p[2], p[3])), 2);
    return torch::linear(torch::relu(torch::linear(h.flatten(1), p[4], p[5])), p[6], p[7]);
  };
  const auto engine = [&](const torch::Tensor& x) { return model->forward(x); };

  // FLOPs of one sample's forward: 2 · multiply-adds of the two convolutions and two linear layers.
  const int64_t h1 = shape[1] - 4, w1 = shape[2] - 4, h2 = h1 / 2 - 4, w2 = w1 / 2 - 4;
  const double forward_flop = 2.0 * (32.0 * shape[0] * 25 * h1 * w1 + 64.0 * 32 * 25 * h2 * w2 +
                                     64.0 * (h2 / 2) * (w2 / 2) * 512 + 512.0 * 10);
  const double peak = bench::sgemm_gflops(1024, 5);
  std::printf("cnn on [%s], %.2f MFLOP per sample forward; single-core SGEMM %.1f GFLOP/s\n",
              fmt::format("{}", fmt::join(shape, ",")).c_str(), forward_flop / 1e6, peak);

  using Net = std::function<torch::Tensor(const torch::Tensor&)>;
  const auto compare = [&](const char* what, int64_t batch, double flop_factor, const std::function<void(const Net&, const torch::Tensor&)>& run) {
    std::vector<int64_t> xs = {batch};
    xs.insert(xs.end(), shape.begin(), shape.end());
    const torch::Tensor x = torch::rand(xs);  // [B, C, H, W]
    double best[2] = {1e30, 1e30};
    const Net nets[2] = {textbook, engine};
    for (int r = 0; r <= repeats; ++r) {
      for (int n = 0; n < 2; ++n) {
        const int steps = static_cast<int>(std::max<int64_t>(4, 640 / batch));
        const auto t0 = Clock::now();
        for (int s = 0; s < steps; ++s) run(nets[n], x);
        const double seconds = std::chrono::duration<double>(Clock::now() - t0).count() / steps;
        if (r > 0) best[n] = std::min(best[n], seconds);  // r = 0 warms up
      }
    }
    const double flop = forward_flop * flop_factor * static_cast<double>(batch);
    std::printf("  %-18s B=%-4lld textbook %7.3f ms (%5.1f GFLOP/s, %3.0f %%)  engine %7.3f ms (%5.1f GFLOP/s, %3.0f %%)  %.2fx\n",
                what, static_cast<long long>(batch), best[0] * 1e3, flop / best[0] / 1e9, 100 * flop / best[0] / 1e9 / peak,
                best[1] * 1e3, flop / best[1] / 1e9, 100 * flop / best[1] / 1e9 / peak, best[0] / best[1]);
  };
  const torch::Tensor labels = torch::arange(1024) % 10;  // [1024]
  for (int64_t batch : {10, 32, 64}) {
    compare("training step", batch, 3.0, [&](const Net& net, const torch::Tensor& x) {
      model->zero_grad();
      torch::nn::functional::cross_entropy(net(x), labels.narrow(0, 0, x.size(0))).backward();
    });
  }
  for (int64_t batch : {64, 256}) {
    compare("no-grad forward", batch, 1.0, [&](const Net& net, const torch::Tensor& x) {
      torch::NoGradGuard no_grad;
      net(x);
    });
  }
  return 0;
}
