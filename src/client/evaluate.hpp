#pragma once
// Evaluation of one client's model on its own test split, and the micro-averaged one-vs-rest AUC
// accumulated as score histograms, so ranks combine it with one all-reduce of integer counts
// (exactly the same result on any number of ranks).
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "data/dataset.hpp"
#include "model/model.hpp"

namespace fedsaf {

struct ClientEval {
  int64_t correct = 0;
  int64_t tested = 0;
  double loss_sum = 0;  // Σ per-sample cross-entropy
};

// Micro AUC over every (sample, class) pair, score = softmax probability, positive = the true
// class. Scores are binned by their logit, log(p / (1 − p)) clamped to ±kLogitRange, in kBins
// bins (pairs that fall in the same bin count as ties: error below 1e-3 in practice).
class AucHistogram {
 public:
  static constexpr int64_t kBins = 8192;
  static constexpr double kLogitRange = 20.0;
  AucHistogram();
  // probs: [B, C] softmax probabilities (non-finite ones count as 0); labels: [B] int64.
  void add(const torch::Tensor& probs, const torch::Tensor& labels);
  // counts: [2 · kBins] int64 (positives then negatives), the form all-reduced across ranks.
  torch::Tensor& counts() { return counts_; }
  double auc() const;  // NaN when there are no positives or no negatives

 private:
  torch::Tensor counts_;  // [2 · kBins] int64
};

// The evaluation batch size for run.eval_batch_size = `configured` (0 = automatic) on `device`.
// Automatic: 64 on the CPU, where bench/bench_forward measured the no-grad forward per sample
// fastest between 16 and 64 for the cnn (1.3× faster than at 1024, whose activations spill the
// caches) and resnet18, and flat from 64 up for mlp and logreg; 1024 on a GPU (fills its cores).
int64_t eval_batch_for(int64_t configured, const torch::Device& device);

// Evaluates `model` (already holding the client's parameters) on data[test_indices]; data lives
// on `device` (Dataset::on), where the batches are gathered.
ClientEval evaluate_client(FlatModel& model, const Dataset& data, const std::vector<int64_t>& test_indices,
                           const torch::Device& device, AucHistogram& auc, int64_t batch_size);

}  // namespace fedsaf
