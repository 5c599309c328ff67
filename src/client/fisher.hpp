#pragma once
// The empirical Fisher diagonal of the shared part θˢ (docs/algorithms.md#fisher-diagonal):
//   F[p] = mean over M batches of (∂ mean-batch CE / ∂θˢ[p])², with the true labels.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "model/model.hpp"

namespace fedsaf {

// The stream coordinate (epoch) of the Fisher pass's batches: far above any training epoch, so
// the Fisher batches are a seeded stream of their own (RngPurpose::kLocalTraining, round, client).
constexpr int64_t kFisherEpoch = int64_t{1} << 23;

// What one Fisher pass of round `round` computes, and from which batches: F over the first
// shared_numel elements of the flat parameters, from M = batches batches of batch_size (0 = every
// batch of one pass over the client's training split; M larger than one pass continues with the
// next pass, epoch kFisherEpoch + 1, ...), drawn from the client's seeded stream.
struct FisherPass {
  int64_t batch_size = 1;    // train.batch_size
  int64_t batches = 0;       // M, fedsaf.fisher_batches
  int64_t shared_numel = 0;  // S
  uint64_t seed = 0;         // run.seed
  int64_t round = 0;
};

// F for `client` from its train_indices. The model's parameters are not changed; its grads are
// left zeroed; it is left in eval mode (no dropout, batch-norm statistics untouched) — the
// trainer switches it back to train mode. data lives on `device` (Dataset::on).
// Returns [S] float32 on the CPU.
torch::Tensor fisher_diagonal(FlatModel& model, const Dataset& data, const std::vector<int64_t>& train_indices,
                              int64_t client, const FisherPass& pass, const torch::Device& device);

// Accumulates the Fisher from gradients that are computed anyway (fisher_source = last_epoch):
// add(grads) once per batch with the mean-batch CE gradient of the shared part, then value().
class FisherAccumulator {
 public:
  explicit FisherAccumulator(int64_t shared_numel) : shared_numel_(shared_numel) {}
  void add(const torch::Tensor& grads);  // grads: [P] (or [S]); only the first S elements are used
  int64_t batches() const { return batches_; }
  torch::Tensor value() const;            // [S] float32: the mean of the squared gradients (0 if none)

 private:
  int64_t shared_numel_;
  int64_t batches_ = 0;
  torch::Tensor sum_;  // [S] float64
};

// numel of each parameter tensor of the first n_head layers (flat order): the tensor boundaries
// for per-tensor Fisher normalisation.
std::vector<int64_t> shared_tensor_sizes(FlatModel& model, int64_t n_head);
// Names of those tensors (e.g. "conv1.weight"), in the same order.
std::vector<std::string> shared_tensor_names(const FlatModel& model, int64_t n_head);

}  // namespace fedsaf
