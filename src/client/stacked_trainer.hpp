#pragma once
// Client-batched training: a group of G clients trained together, their flat parameters stacked
// as one [G, P] block, through the model's stacked forward (batched matrix products, grouped
// convolutions): one set of kernels per step instead of G. Each client keeps its own batches,
// loss, gradient, regularizer and SGD step, exactly as train_client would give them one at a time
// (up to float rounding). Clients that run out of batches leave the group: they are ordered by
// batch count, so the clients still training are always the first rows.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "client/fisher.hpp"  // FisherPass
#include "client/trainer.hpp"

namespace fedsaf {

struct StackedClient {
  int64_t client = 0;
  const std::vector<int64_t>* train_indices = nullptr;
  RegularizerGrad regularizer;  // may be empty
};

// The group size train.client_group = 0 stands for, for a model of num_params parameters: on the
// CPU min(128, 2 MiB / (4 B · P)) up to 32,768 parameters, else 1 (bench/bench_stacked measured
// stacking faster only for small models there); on a GPU as many as 256 MiB of parameters hold,
// at most 1024.
int64_t automatic_client_group(int64_t num_params, const torch::Device& device);

// Whether a client with `train_size` samples can train in a group: every one of its batches is
// full (train_client keeps a short batch only when it is all the client has).
bool can_train_stacked(int64_t train_size, const TrainConfig& config);

// Trains every client of `group` from its row of `params` ([G, P], rows in group order, updated
// in place); model.stacks_clients() must hold. Returns each client's TrainStats, in group order.
std::vector<TrainStats> train_clients_stacked(FlatModel& model, torch::Tensor& params, const Dataset& data,
                                              const std::vector<StackedClient>& group, const TrainConfig& config,
                                              uint64_t seed, int64_t round, const torch::Device& device,
                                              int64_t trainable_numel = -1);

// fisher_diagonal for every client of `group` at once, each from its row of params ([G, P], not
// changed) with the same batches: [G, S] float32 on the CPU, rows in group order. The model is
// left in eval mode, as fisher_diagonal leaves it.
torch::Tensor fisher_diagonals_stacked(FlatModel& model, const torch::Tensor& params, const Dataset& data,
                                       const std::vector<StackedClient>& group, const FisherPass& pass,
                                       const torch::Device& device);

}  // namespace fedsaf
