// Client-batched training (train_clients_stacked) against one client at a time (train_client), in
// one process, on the same clients and batches: prints, per group size G, the seconds for all
// clients and the ratio one-at-a-time / stacked (> 1: stacking is faster). The data are random
// (speed does not depend on the values); client sizes are drawn like the synthetic data's.
// Usage: bench_stacked [model=mlp] [clients=500] [G list=1,4,16,64,500] [repeats=3]
//   model mlp: 60 features, hidden 200 (the 1000-client FedSAF case, 500 clients per rank)
//   model cnn: 1×28×28 images (FashionMNIST-shaped), clients of ~2600 samples
//   model mlp784: mlp on 784 features (FashionMNIST-shaped vectors), clients of ~2600 samples
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <sstream>
#include <string>

#include "client/stacked_trainer.hpp"
#include "client/trainer.hpp"
#include "data/dataset.hpp"
#include "model/model.hpp"

using namespace fedsaf;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::vector<int64_t> parse_list(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoll(item));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string model_name = argc > 1 ? argv[1] : "mlp";
  const int64_t clients = argc > 2 ? std::stoll(argv[2]) : 500;
  const std::vector<int64_t> groups = parse_list(argc > 3 ? argv[3] : "1,4,16,64,500");
  const int repeats = argc > 4 ? std::stoi(argv[4]) : 3;
  torch::set_num_threads(1);
  const bool cnn = model_name == "cnn", wide = model_name == "mlp784", large = cnn || wide;
  const std::vector<int64_t> shape = cnn ? std::vector<int64_t>{1, 28, 28} : std::vector<int64_t>{wide ? 784 : 60};

  // Client training sizes: cnn ~ FashionMNIST Dir(0.1) over 20 clients (~2600 each, varied);
  // mlp: 0.75 × (50 + lognormal(4, 2)) capped at 1000, as the synthetic data.
  std::mt19937_64 rng(1);
  std::lognormal_distribution<double> lognormal(4.0, 2.0);
  std::vector<std::vector<int64_t>> indices;
  int64_t total = 0;
  for (int64_t c = 0; c < clients; ++c) {
    const auto n = large ? static_cast<int64_t>(1000 + rng() % 3200)
                       : static_cast<int64_t>(0.75 * std::min(1000.0, 50.0 + lognormal(rng)));
    std::vector<int64_t> idx(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = total + i;
    total += n;
    indices.push_back(idx);
  }
  // Groups are formed as the engine forms them: clients by size, largest first, so that the
  // clients of one group run out of batches at about the same step.
  std::stable_sort(indices.begin(), indices.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  Dataset data;
  data.name = "bench";
  std::vector<int64_t> full{total};
  full.insert(full.end(), shape.begin(), shape.end());
  data.x = cnn ? torch::randint(0, 256, full, torch::kUInt8) : torch::randn(full);  // [N, ...]
  data.y = torch::randint(0, 10, {total}, torch::kInt64);                           // [N]
  data.num_classes = 10;
  if (cnn) data.scale = 1.0 / 255.0;

  ModelConfig mc;
  mc.name = wide ? "mlp" : model_name;
  auto model = make_model(mc, shape, 10, 1);
  const int64_t p = model->num_params();
  const torch::Tensor start = model->params().clone();  // [P]
  TrainConfig train;  // batch 10, lr 0.005, 1 epoch: the configs' defaults
  std::printf("bench_stacked: %s, %lld clients, %lld samples, P = %lld, batch %lld\n", model_name.c_str(),
              static_cast<long long>(clients), static_cast<long long>(total), static_cast<long long>(p),
              static_cast<long long>(train.batch_size));

  double one_at_a_time = 0;
  for (const int64_t g : groups) {
    double best = 1e30;
    for (int rep = 0; rep < repeats; ++rep) {
      const auto t0 = Clock::now();
      if (g <= 1) {
        for (int64_t c = 0; c < clients; ++c) {
          model->params().copy_(start);
          train_client(*model, data, indices[static_cast<size_t>(c)], train, 1, rep, c, nullptr, torch::kCPU);
        }
      } else {
        for (int64_t first = 0; first < clients; first += g) {
          const int64_t size = std::min(g, clients - first);
          std::vector<StackedClient> group;
          for (int64_t c = first; c < first + size; ++c) group.push_back({c, &indices[static_cast<size_t>(c)], nullptr});
          torch::Tensor stacked = start.unsqueeze(0).repeat({size, 1});  // [G, P]
          train_clients_stacked(*model, stacked, data, group, train, 1, rep, torch::kCPU);
        }
      }
      best = std::min(best, seconds(t0));
    }
    if (g <= 1) one_at_a_time = best;
    std::printf("  G = %4lld  %8.3f s  one-at-a-time / stacked = %.2f\n", static_cast<long long>(g), best,
                one_at_a_time > 0 ? one_at_a_time / best : std::nan(""));
  }
  return 0;
}
