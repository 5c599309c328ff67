#include "client/trainer.hpp"

#include "core/rng.hpp"

namespace fedsaf {

std::vector<std::vector<int64_t>> epoch_batches(const std::vector<int64_t>& indices, int64_t batch_size,
                                                uint64_t seed, int64_t round, int64_t client, int64_t epoch) {
  // One stream per (round, client, epoch): any epoch can be regenerated on its own, on any rank.
  RngStream rng(seed, RngPurpose::kLocalTraining, static_cast<uint32_t>(round), static_cast<uint32_t>(client),
                static_cast<uint32_t>(epoch));
  std::vector<int64_t> order = indices;
  rng.shuffle(order);
  const int64_t n = static_cast<int64_t>(order.size());
  const int64_t full = n / batch_size;
  const int64_t count = full > 0 ? full : (n > 0 ? 1 : 0);  // keep a short batch only if it is all there is
  std::vector<std::vector<int64_t>> batches;
  batches.reserve(static_cast<size_t>(count));
  for (int64_t b = 0; b < count; ++b) {
    const int64_t begin = b * batch_size, end = std::min(n, begin + batch_size);
    batches.emplace_back(order.begin() + begin, order.begin() + end);
  }
  return batches;
}

torch::Tensor indices_on(const std::vector<int64_t>& indices, const torch::Device& device) {
  const auto n = static_cast<int64_t>(indices.size());
  const torch::Tensor view = torch::from_blob(const_cast<int64_t*>(indices.data()), {n}, torch::kInt64);  // [n]
  return view.to(view.options().device(device), /*non_blocking=*/false, /*copy=*/true);  // [n], owns its memory
}

std::vector<int64_t> concatenated(const std::vector<std::vector<int64_t>>& batches) {
  std::vector<int64_t> all;
  for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
  return all;
}

TrainStats train_client(FlatModel& model, const Dataset& data, const std::vector<int64_t>& train_indices,
                        const TrainConfig& config, uint64_t seed, int64_t round, int64_t client,
                        const RegularizerGrad& regularizer, const torch::Device& device,
                        int64_t trainable_numel) {
  TrainStats stats;
  model.train(true);
  const int64_t p = model.num_params();
  const int64_t trainable = trainable_numel < 0 ? p : std::min(trainable_numel, p);
  torch::Tensor& all_grads = model.grads();  // [P]
  // The SGD step works on the trainable prefix only; a frozen tail keeps its values exactly.
  torch::Tensor params = model.params().narrow(0, 0, trainable);  // [T]
  torch::Tensor grads = all_grads.narrow(0, 0, trainable);        // [T]
  torch::Tensor momentum;  // [T], fresh each round (the optimiser is per round)
  torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat32).device(device));  // []
  for (int64_t epoch = 0; epoch < config.local_epochs; ++epoch) {
    const auto batches = epoch_batches(train_indices, config.batch_size, seed, round, client, epoch);
    const torch::Tensor order = indices_on(concatenated(batches), device);  // [n'] int64, the epoch's batches
    int64_t begin = 0;
    for (const auto& batch : batches) {
      const torch::Tensor idx = order.narrow(0, begin, static_cast<int64_t>(batch.size()));  // [B]
      begin += static_cast<int64_t>(batch.size());
      const torch::Tensor x = data.batch(idx);             // [B, ...] float32, on the device
      const torch::Tensor y = data.y.index_select(0, idx);  // [B] int64
      all_grads.zero_();
      const torch::Tensor loss = torch::nn::functional::cross_entropy(model.forward(x), y);  // []
      loss.backward();
      {
        torch::NoGradGuard no_grad;
        if (regularizer) regularizer(model.params(), all_grads);
        if (config.weight_decay > 0) grads.add_(params, config.weight_decay);
        if (config.momentum > 0) {
          if (!momentum.defined()) momentum = grads.clone();
          else momentum.mul_(config.momentum).add_(grads);
          params.add_(momentum, -config.lr);
        } else {
          params.add_(grads, -config.lr);  // one fused SGD step on the whole flat buffer
        }
      }
      loss_sum = loss_sum + loss.detach();  // no per-batch sync; read once at the end
      stats.batches += 1;
      stats.samples += static_cast<int64_t>(batch.size());
    }
  }
  stats.loss_sum = loss_sum.item<double>();
  return stats;
}

}  // namespace fedsaf
