#pragma once
// Named per-client statistics: what an algorithm hands the engine for each trained client
// (Algorithm::client_end), declared once with their reduction (Algorithm::statistics), and the
// cohort's reduced values the engine gives back in the server step (ServerStep::statistics).
// The engine performs every reduction over clients and ranks (sim/cohort_reduction.hpp), so an
// algorithm never communicates for one; only the attention algorithms' pairwise exchange is theirs.
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>

namespace fedsaf {

// How the values v_k of the cohort's trained clients k (every rank's) combine.
enum class Reduction {
  weighted_mean,  // Σ n_k·v_k / Σ n_k with n_k the client's training samples: [width] float32,
                  // undefined when nobody trained (sums in float64, as FedAvg's average)
  sum,            // Σ v_k: [width] float64 (zeros when nobody trained)
  max,            // elementwise max: [width] float64 (−∞ where nobody trained)
  rows,           // every client's row: [N, width] float64, NaN rows for clients that did not train
};

struct Statistic {
  std::string name;  // e.g. "model"
  Reduction reduction = Reduction::weighted_mean;
  int64_t width = 0;  // numel of every client's value
};

// One trained client's values, by statistic name: every declared statistic, each [width] of a
// floating type on any device. The engine reads them as soon as client_end returns (a view of the
// worker model's parameters is fine).
class ClientStatistics {
 public:
  void put(const std::string& name, torch::Tensor value) { values_[name] = std::move(value); }
  // The value put under `name`, or nullptr.
  const torch::Tensor* find(const std::string& name) const {
    const auto it = values_.find(name);
    return it == values_.end() ? nullptr : &it->second;
  }
  size_t size() const { return values_.size(); }

 private:
  std::map<std::string, torch::Tensor> values_;
};

// The cohort's reduced statistics of one round, by name (shapes and dtypes as Reduction says).
class CohortStatistics {
 public:
  void set(const std::string& name, torch::Tensor value) { values_[name] = std::move(value); }
  // The reduced value of a declared statistic (undefined: a weighted mean nobody contributed to);
  // throws std::out_of_range naming a statistic that was never declared.
  const torch::Tensor& at(const std::string& name) const {
    const auto it = values_.find(name);
    if (it == values_.end()) throw std::out_of_range("no cohort statistic named '" + name + "' was declared");
    return it->second;
  }
  bool empty() const { return values_.empty(); }

 private:
  std::map<std::string, torch::Tensor> values_;
};

}  // namespace fedsaf
