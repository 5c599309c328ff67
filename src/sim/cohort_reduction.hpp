#pragma once
// The engine's reductions of the algorithm's per-client statistics (algo/client_statistics.hpp)
// over the cohort's trained clients on every rank. Each rank accumulates its own clients in
// float64 in the order they trained; then one all-reduce sums every weighted mean's (Σ n_k·v_k,
// Σ n_k) and every sum, one all-reduce takes every max, and one all-gather per `rows` statistic
// assembles its table; the division comes last. Statistics that are not declared cost nothing.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "algo/client_statistics.hpp"

namespace fedsaf {

class Communicator;

class CohortReduction {
 public:
  // statistics: Algorithm::statistics(), fixed for a run; num_clients: N, the rows tables' height.
  CohortReduction(std::vector<Statistic> statistics, int64_t num_clients, torch::Device device);
  // One trained client's values (every declared statistic, [width] each) and n, its training
  // samples. Throws Error naming a statistic that is missing or of the wrong size.
  void add(int64_t client, double n, const ClientStatistics& values);
  // Collective (unless nothing is declared): the reduced statistics over every rank's added
  // clients since the last call, which starts the next round from zero.
  CohortStatistics reduce(Communicator& comm);

 private:
  void reset();

  std::vector<Statistic> statistics_;
  int64_t num_clients_;
  torch::Device device_;
  // Per statistic i (declaration order): where it lives in the summed or maximised buffer.
  std::vector<int64_t> offset_;
  torch::Tensor sums_;    // [Σ (width + 1 for weighted means) + Σ width for sums] float64
  torch::Tensor maxima_;  // [Σ width for maxima] float64, −∞ to start
  std::vector<std::vector<int64_t>> row_clients_;    // per statistic: the clients added, in order
  std::vector<std::vector<torch::Tensor>> row_values_;  // per statistic: their [width] float64 rows
};

}  // namespace fedsaf
