#include "client/stacked_trainer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "client/fisher.hpp"

namespace fedsaf {

namespace {

// One client's samples for every step of a stacked pass: its batches back to back (all full).
struct ClientSteps {
  std::vector<int64_t> order;  // [steps · B] sample indices
  int64_t steps = 0;
  void add(const std::vector<int64_t>& batch, int64_t client, int64_t batch_size) {
    if (static_cast<int64_t>(batch.size()) != batch_size)
      throw std::logic_error(fmt::format("client {} has a short batch: it cannot train in a group", client));
    order.insert(order.end(), batch.begin(), batch.end());
    ++steps;
  }
};

// The training batches train_client draws: epochs 0..E-1.
ClientSteps training_steps(const StackedClient& c, const TrainConfig& config, uint64_t seed, int64_t round) {
  ClientSteps out;
  for (int64_t epoch = 0; epoch < config.local_epochs; ++epoch)
    for (const auto& batch : epoch_batches(*c.train_indices, config.batch_size, seed, round, c.client, epoch))
      out.add(batch, c.client, config.batch_size);
  return out;
}

// The batches fisher_diagonal draws: passes from epoch kFisherEpoch, M = fisher_batches of them
// (0: one pass).
ClientSteps fisher_steps(const StackedClient& c, int64_t batch_size, int64_t fisher_batches, uint64_t seed,
                         int64_t round) {
  ClientSteps out;
  for (int64_t pass = 0;; ++pass) {
    for (const auto& batch : epoch_batches(*c.train_indices, batch_size, seed, round, c.client, kFisherEpoch + pass)) {
      if (fisher_batches > 0 && out.steps >= fisher_batches) break;
      out.add(batch, c.client, batch_size);
    }
    if (fisher_batches == 0 || out.steps >= fisher_batches) break;
  }
  return out;
}

// A group's steps, rows sorted by step count (most first) so that at step t the clients still
// going are rows [0, A).
class StackedPass {
 public:
  StackedPass(FlatModel& model, std::vector<ClientSteps> steps, int64_t batch_size, const torch::Device& device)
      : model_(model), steps_(std::move(steps)), b_(batch_size), device_(device), by_steps_(steps_.size()) {
    std::iota(by_steps_.begin(), by_steps_.end(), int64_t{0});
    std::stable_sort(by_steps_.begin(), by_steps_.end(),
                     [&](int64_t a, int64_t c) { return steps_at(a) > steps_at(c); });
    perm_ = indices_on(by_steps_, device);  // [G]
    int64_t offset = 0;
    for (const torch::Tensor& param : model.parameters()) {  // parameters() order is the flat order
      shapes_.emplace_back(param.sizes().begin(), param.sizes().end());
      offsets_.push_back(offset);
      numels_.push_back(param.numel());
      offset += param.numel();
    }
  }

  const torch::Tensor& perm() const { return perm_; }  // [G]: sorted row a is group member perm[a]
  int64_t member(int64_t a) const { return by_steps_[static_cast<size_t>(a)]; }
  int64_t steps_at(int64_t member) const { return steps_[static_cast<size_t>(member)].steps; }
  int64_t max_steps() const { return steps_.empty() ? 0 : steps_at(by_steps_.front()); }
  // Rows still going at step t.
  int64_t active(int64_t t) const {
    int64_t a = static_cast<int64_t>(steps_.size());
    while (a > 0 && steps_at(member(a - 1)) <= t) --a;
    return a;
  }

  // Step t for rows [0, A) of `rows` ([G, P], not changed): each row's mean-batch cross-entropy on
  // its own batch t (returned, [A]) and its gradient (written into grads [A, P]).
  torch::Tensor gradients(const Dataset& data, const torch::Tensor& rows, int64_t t, int64_t a, torch::Tensor grads) {
    batch_indices_.clear();
    for (int64_t i = 0; i < a; ++i) {
      const auto& order = steps_[static_cast<size_t>(member(i))].order;
      batch_indices_.insert(batch_indices_.end(), order.begin() + t * b_, order.begin() + (t + 1) * b_);
    }
    const torch::Tensor index = indices_on(batch_indices_, device_);  // [A·B]
    const torch::Tensor flat_x = data.batch(index);                   // [A·B, ...]
    std::vector<int64_t> shape{a, b_};
    shape.insert(shape.end(), flat_x.sizes().begin() + 1, flat_x.sizes().end());
    const torch::Tensor x = flat_x.view(shape);             // [A, B, ...]
    const torch::Tensor y = data.y.index_select(0, index);  // [A·B] int64

    // One leaf per parameter, sharing the rows' memory: backward then writes each gradient once.
    const torch::Tensor live = rows.narrow(0, 0, a);  // [A, P]
    std::vector<torch::Tensor> leaves;                // [A, shape...] each
    for (size_t k = 0; k < shapes_.size(); ++k) {
      std::vector<int64_t> shape_k{a};
      shape_k.insert(shape_k.end(), shapes_[k].begin(), shapes_[k].end());
      leaves.push_back(live.narrow(1, offsets_[k], numels_[k]).view(shape_k).detach().requires_grad_(true));
    }
    const torch::Tensor logits = model_.forward_stacked(leaves, x);  // [A, B, classes]
    namespace F = torch::nn::functional;
    const torch::Tensor losses = F::cross_entropy(logits.flatten(0, 1), y, F::CrossEntropyFuncOptions().reduction(torch::kNone))
                                     .view({a, b_})
                                     .mean(1);  // [A]
    losses.sum().backward();  // rows are independent: row i's gradient is its client's alone
    torch::NoGradGuard no_grad;
    for (size_t k = 0; k < leaves.size(); ++k) {
      torch::Tensor slot = grads.narrow(1, offsets_[k], numels_[k]);  // [A, numel_k]
      const torch::Tensor& g_k = leaves[k].grad();
      if (g_k.defined()) slot.copy_(g_k.view({a, numels_[k]}));
      else slot.zero_();  // a parameter the forward did not use
    }
    return losses.detach();
  }

 private:
  FlatModel& model_;
  std::vector<ClientSteps> steps_;
  int64_t b_;
  torch::Device device_;
  std::vector<int64_t> by_steps_;
  torch::Tensor perm_;
  std::vector<std::vector<int64_t>> shapes_;
  std::vector<int64_t> offsets_, numels_;
  std::vector<int64_t> batch_indices_;
};

}  // namespace

int64_t automatic_client_group(int64_t num_params, const torch::Device& device) {
  const int64_t bytes = 4 * std::max<int64_t>(1, num_params);
  if (device.is_cuda()) return std::clamp<int64_t>((int64_t{256} << 20) / bytes, 1, 1024);
  constexpr int64_t kMaxStackedParams = 32768;
  if (num_params > kMaxStackedParams) return 1;
  return std::clamp<int64_t>((int64_t{2} << 20) / bytes, 1, 128);
}

bool can_train_stacked(int64_t train_size, const TrainConfig& config) { return train_size >= config.batch_size; }

std::vector<TrainStats> train_clients_stacked(FlatModel& model, torch::Tensor& params, const Dataset& data,
                                              const std::vector<StackedClient>& group, const TrainConfig& config,
                                              uint64_t seed, int64_t round, const torch::Device& device,
                                              int64_t trainable_numel) {
  const auto g = static_cast<int64_t>(group.size());
  std::vector<TrainStats> stats(group.size());
  if (g == 0) return stats;
  model.train(true);
  const int64_t p = params.size(1);
  const int64_t trainable = trainable_numel < 0 ? p : std::min(trainable_numel, p);
  std::vector<ClientSteps> steps;
  for (const StackedClient& c : group) steps.push_back(training_steps(c, config, seed, round));
  StackedPass pass(model, std::move(steps), config.batch_size, device);

  torch::Tensor rows = params.index_select(0, pass.perm());  // [G, P], sorted by step count
  torch::Tensor grad_rows = torch::empty_like(rows);         // [G, P]
  torch::Tensor momentum;                                    // [G, T], fresh each round as in train_client
  torch::Tensor loss_sums = torch::zeros({g}, rows.options());  // [G] float32
  for (int64_t t = 0; t < pass.max_steps(); ++t) {
    const int64_t a = pass.active(t);
    torch::Tensor grads = grad_rows.narrow(0, 0, a);                    // [A, P]
    const torch::Tensor losses = pass.gradients(data, rows, t, a, grads);  // [A]
    torch::NoGradGuard no_grad;
    torch::Tensor live = rows.narrow(0, 0, a);  // [A, P]
    for (int64_t i = 0; i < a; ++i) {
      const RegularizerGrad& regularizer = group[static_cast<size_t>(pass.member(i))].regularizer;
      if (!regularizer) continue;
      torch::Tensor row_grads = grads.select(0, i);  // [P]
      regularizer(live.select(0, i), row_grads);
    }
    torch::Tensor w = live.narrow(1, 0, trainable);    // [A, T]
    torch::Tensor dw = grads.narrow(1, 0, trainable);  // [A, T]
    if (config.weight_decay > 0) dw.add_(w, config.weight_decay);
    if (config.momentum > 0) {
      if (t == 0) momentum = dw.clone();  // every client trains at step 0
      else momentum.narrow(0, 0, a).mul_(config.momentum).add_(dw);
      w.add_(momentum.narrow(0, 0, a), -config.lr);
    } else {
      w.add_(dw, -config.lr);
    }
    loss_sums.narrow(0, 0, a).add_(losses);
  }
  params.index_copy_(0, pass.perm(), rows);

  const torch::Tensor sums = loss_sums.to(torch::kCPU);  // [G], sorted
  for (int64_t a = 0; a < g; ++a) {
    const auto i = static_cast<size_t>(pass.member(a));
    stats[i].loss_sum = static_cast<double>(sums[a].item<float>());
    stats[i].batches = pass.steps_at(pass.member(a));
    stats[i].samples = stats[i].batches * config.batch_size;
  }
  return stats;
}

torch::Tensor fisher_diagonals_stacked(FlatModel& model, const torch::Tensor& params, const Dataset& data,
                                       const std::vector<StackedClient>& group, const FisherPass& fisher,
                                       const torch::Device& device) {
  const int64_t batch_size = fisher.batch_size, shared_numel = fisher.shared_numel;
  const auto g = static_cast<int64_t>(group.size());
  if (g == 0) return torch::zeros({0, shared_numel});
  model.train(false);
  std::vector<ClientSteps> steps;
  for (const StackedClient& c : group) steps.push_back(fisher_steps(c, batch_size, fisher.batches, fisher.seed, fisher.round));
  StackedPass pass(model, std::move(steps), batch_size, device);
  const torch::Tensor rows = params.index_select(0, pass.perm());  // [G, P], sorted by step count
  torch::Tensor grad_rows = torch::empty_like(rows);               // [G, P]
  // Σ g² in float64, as FisherAccumulator (a float32 product is exact in float64).
  torch::Tensor sums = torch::zeros({g, shared_numel}, rows.options().dtype(torch::kFloat64));  // [G, S]
  for (int64_t t = 0; t < pass.max_steps(); ++t) {
    const int64_t a = pass.active(t);
    torch::Tensor grads = grad_rows.narrow(0, 0, a);  // [A, P]
    pass.gradients(data, rows, t, a, grads);
    torch::NoGradGuard no_grad;
    const torch::Tensor shared = grads.narrow(1, 0, shared_numel);  // [A, S]
    sums.narrow(0, 0, a).addcmul_(shared, shared);
  }
  torch::Tensor counts = torch::empty({g}, torch::kFloat64);  // [G] batches per sorted row
  for (int64_t a = 0; a < g; ++a) counts[a] = static_cast<double>(std::max<int64_t>(1, pass.steps_at(pass.member(a))));
  const torch::Tensor means = (sums / counts.to(sums.device()).unsqueeze(1)).to(torch::kCPU, torch::kFloat32);  // [G, S]
  torch::Tensor out = torch::empty_like(means);  // [G, S] in group order
  out.index_copy_(0, pass.perm().to(torch::kCPU), means);
  return out;
}

}  // namespace fedsaf
