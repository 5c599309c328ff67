#pragma once
// Local training of one client on the rank's worker model: E epochs of mini-batch SGD on the
// flat parameter buffer, with the algorithm's extra gradient added per batch.
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "core/config.hpp"
#include "data/dataset.hpp"
#include "model/model.hpp"

namespace fedsaf {

struct TrainStats {
  double loss_sum = 0;  // Σ over batches of the mean-batch cross-entropy (without extra terms)
  int64_t batches = 0;
  int64_t samples = 0;  // samples seen (over all epochs)
  double mean_loss() const { return batches ? loss_sum / static_cast<double>(batches) : 0.0; }
};

// Adds an extra loss term's gradient to grads ([P]) given params ([P]); returns the term's value.
using RegularizerGrad = std::function<double(const torch::Tensor& params, torch::Tensor& grads)>;

// Trains `model` in place on the samples `train_indices` of `data`. The shuffling comes only from
// (seed, round, client) so the result does not depend on which rank trains the client. The last
// incomplete batch is dropped only when the client has at least one full batch. Only the first
// `trainable_numel` flat parameters are updated (-1: all). data lives on `device` (Dataset::on),
// where every batch is gathered.
TrainStats train_client(FlatModel& model, const Dataset& data, const std::vector<int64_t>& train_indices,
                        const TrainConfig& config, uint64_t seed, int64_t round, int64_t client,
                        const RegularizerGrad& regularizer, const torch::Device& device,
                        int64_t trainable_numel = -1);

// The batches of one epoch: a seeded permutation cut into batches (see train_client).
std::vector<std::vector<int64_t>> epoch_batches(const std::vector<int64_t>& indices, int64_t batch_size,
                                                uint64_t seed, int64_t round, int64_t client, int64_t epoch);

// Sample indices, one copy to `device`: [n] int64. Batches are then slices of it (narrow), so no
// batch waits on its own host→device copy.
torch::Tensor indices_on(const std::vector<int64_t>& indices, const torch::Device& device);
// The batches one after another as one index list (slice b of it is batch b).
std::vector<int64_t> concatenated(const std::vector<std::vector<int64_t>>& batches);

}  // namespace fedsaf
