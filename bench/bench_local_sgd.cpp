// Local SGD through the engine's client path (train_client on a FlatModel) vs a bare LibTorch
// loop (torch::nn module + torch::optim::SGD) over the same tensors, in one process. Prints the
// ratio engine / bare; target ≤ 1.05. Usage: bench_local_sgd [model=cnn] [samples=2000] [repeats=3]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "client/trainer.hpp"
#include "core/config.hpp"
#include "core/rng.hpp"
#include "data/dataset.hpp"
#include "model/model.hpp"

using namespace fedsaf;
using Clock = std::chrono::steady_clock;

namespace {

// The FedAvg CNN written plainly, as a user would without fedsaf.
struct BareCnn : torch::nn::Module {
  BareCnn() {
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 32, 5)));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 5)));
    fc1 = register_module("fc1", torch::nn::Linear(1024, 512));
    fc2 = register_module("fc2", torch::nn::Linear(512, 10));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = torch::max_pool2d(torch::relu(conv1(x)), 2);   // [B, 32, 12, 12]
    x = torch::max_pool2d(torch::relu(conv2(x)), 2);   // [B, 64, 4, 4]
    x = torch::relu(fc1(x.flatten(1)));                // [B, 512]
    return fc2(x);                                     // [B, 10]
  }
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};

double seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

int main(int argc, char** argv) {
  const int64_t samples = argc > 2 ? std::stoll(argv[2]) : 2000;
  const int repeats = argc > 3 ? std::stoi(argv[3]) : 3;
  torch::set_num_threads(1);

  // A FashionMNIST-shaped data set of random pixels (speed does not depend on the values).
  Dataset data;
  data.name = "bench";
  data.x = torch::randint(0, 256, {samples, 1, 28, 28}, torch::kUInt8);  // [N, 1, 28, 28]
  data.y = torch::randint(0, 10, {samples}, torch::kInt64);               // [N]
  data.num_classes = 10;
  data.scale = 1.0 / 255.0;
  data.mean = {0.5};
  data.std = {0.5};
  std::vector<int64_t> indices(static_cast<size_t>(samples));
  for (int64_t i = 0; i < samples; ++i) indices[static_cast<size_t>(i)] = i;

  ModelConfig model_config;
  model_config.name = "cnn";
  TrainConfig train;
  train.batch_size = 10;
  train.lr = 0.005;
  auto model = make_model(model_config, {1, 28, 28}, 10, 1);
  BareCnn bare;
  torch::optim::SGD sgd(bare.parameters(), torch::optim::SGDOptions(0.005));

  double engine_best = 1e30, bare_best = 1e30;
  for (int rep = 0; rep < repeats; ++rep) {
    auto t = Clock::now();
    train_client(*model, data, indices, train, 1, rep, 0, nullptr, torch::kCPU);
    engine_best = std::min(engine_best, seconds(t));

    // The bare loop uses exactly the same batches (same seeded permutation).
    const auto batches = epoch_batches(indices, train.batch_size, 1, rep, 0, 0);
    t = Clock::now();
    bare.train();
    for (auto batch : batches) {
      const torch::Tensor idx = torch::from_blob(batch.data(), {static_cast<int64_t>(batch.size())}, torch::kInt64);  // [B]
      const torch::Tensor x = data.batch(idx);                 // [B, 1, 28, 28]
      const torch::Tensor y = data.y.index_select(0, idx);     // [B]
      sgd.zero_grad();
      torch::nn::functional::cross_entropy(bare.forward(x), y).backward();
      sgd.step();
    }
    bare_best = std::min(bare_best, seconds(t));
  }
  std::printf("local SGD, cnn, %lld samples, batch 10, best of %d: engine %.3f s, bare LibTorch %.3f s, ratio %.3f\n",
              static_cast<long long>(samples), repeats, engine_best, bare_best, engine_best / bare_best);
  return 0;
}
