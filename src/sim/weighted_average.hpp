#pragma once
// The standard server reduction of FedAvg-style algorithms, owned by the engine: the
// sample-weighted mean Σ n_k·w_k / Σ n_k of the first `numel` parameters of the cohort's trained
// models, reduced algebraically: every rank sums (Σ n_k·w_k, Σ n_k) over its own clients in
// float64, one all-reduce, one division.
#include <torch/torch.h>

#include <cstdint>

namespace fedsaf {

class Communicator;

class WeightedAverage {
 public:
  // numel: parameters averaged (Algorithm::averaged_numel(); 0 = nothing, no communication).
  WeightedAverage(int64_t numel, torch::Device device);
  // params: [≥ numel] float32, a trained model; n: its client's training samples.
  void add(const torch::Tensor& params, double n);
  // Collective (unless numel = 0): [numel] float32, the mean over every rank's added models;
  // undefined when numel = 0 or nothing was added anywhere. Starts the next sum from zero.
  torch::Tensor reduce(Communicator& comm);

 private:
  int64_t numel_;
  torch::Tensor sum_;  // [numel + 1] float64: Σ n_k·w_k, then Σ n_k
};

}  // namespace fedsaf
