#include "client/fisher.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "client/trainer.hpp"
#include "core/errors.hpp"

namespace fedsaf {

void FisherAccumulator::add(const torch::Tensor& grads) {
  torch::NoGradGuard no_grad;
  const torch::Tensor g = grads.narrow(0, 0, shared_numel_);  // [S] float32, on the model's device
  // The sum stays on that device (no copy or sync per batch); g² is formed in float64 inside
  // addcmul_ (exact: a float32 product fits a float64), without a temporary.
  if (!sum_.defined()) sum_ = torch::zeros({shared_numel_}, g.options().dtype(torch::kFloat64));
  sum_.addcmul_(g, g);
  batches_ += 1;
}

torch::Tensor FisherAccumulator::value() const {
  if (batches_ == 0) return torch::zeros({shared_numel_}, torch::TensorOptions().dtype(torch::kFloat32));
  return (sum_ / static_cast<double>(batches_)).to(torch::kCPU, torch::kFloat32);  // [S]
}

torch::Tensor fisher_diagonal(FlatModel& model, const Dataset& data, const std::vector<int64_t>& train_indices,
                              int64_t client, const FisherPass& fisher, const torch::Device& device) {
  const int64_t fisher_batches = fisher.batches, shared_numel = fisher.shared_numel;
  if (fisher_batches < 0) throw ConfigError(fmt::format("fedsaf.fisher_batches = {}: must be ≥ 0", fisher_batches));
  if (shared_numel < 0 || shared_numel > model.num_params())
    throw Error(fmt::format("fisher: shared_numel = {} outside [0, {}]", shared_numel, model.num_params()));
  FisherAccumulator acc(shared_numel);
  if (train_indices.empty()) return acc.value();
  model.train(false);
  torch::Tensor& grads = model.grads();  // [P]
  for (int64_t pass = 0;; ++pass) {
    const auto batches =
        epoch_batches(train_indices, fisher.batch_size, fisher.seed, fisher.round, client, kFisherEpoch + pass);
    const torch::Tensor order = indices_on(concatenated(batches), device);  // [n'] int64
    int64_t begin = 0;
    for (const auto& batch : batches) {
      if (fisher_batches > 0 && acc.batches() >= fisher_batches) break;
      const torch::Tensor idx = order.narrow(0, begin, static_cast<int64_t>(batch.size()));  // [B]
      begin += static_cast<int64_t>(batch.size());
      const torch::Tensor x = data.batch(idx);             // [B, ...] float32
      const torch::Tensor y = data.y.index_select(0, idx);  // [B] int64
      model.zero_grad();
      torch::nn::functional::cross_entropy(model.forward(x), y).backward();  // mean-batch CE
      acc.add(grads);
    }
    if (fisher_batches == 0 || acc.batches() >= fisher_batches) break;
  }
  model.zero_grad();
  return acc.value();
}

std::vector<int64_t> shared_tensor_sizes(FlatModel& model, int64_t n_head) {
  const int64_t s = model.shared_numel(n_head);
  std::vector<int64_t> sizes;
  int64_t total = 0;
  for (const torch::Tensor& p : model.parameters()) {
    if (total >= s) break;
    sizes.push_back(p.numel());
    total += p.numel();
  }
  if (total != s) throw Error(fmt::format("fisher: the shared part ({}) does not end at a tensor boundary", s));
  return sizes;
}

std::vector<std::string> shared_tensor_names(const FlatModel& model, int64_t n_head) {
  const auto& layers = model.layers();
  const size_t shared_layers = n_head <= 0 ? layers.size() : std::min(layers.size(), static_cast<size_t>(n_head));
  std::vector<std::string> names;
  for (size_t l = 0; l < shared_layers; ++l) names.insert(names.end(), layers[l].params.begin(), layers[l].params.end());
  return names;
}

}  // namespace fedsaf
