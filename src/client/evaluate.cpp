#include "client/evaluate.hpp"

#include "client/trainer.hpp"  // indices_on

#include <cmath>
#include <limits>

namespace fedsaf {

AucHistogram::AucHistogram() : counts_(torch::zeros({2 * kBins}, torch::kInt64)) {}

void AucHistogram::add(const torch::Tensor& probs, const torch::Tensor& labels) {
  // A non-finite probability (a model that outputs NaN) scores lowest, in bin 0.
  torch::Tensor p = probs.to(torch::kCPU, torch::kFloat64);  // [B, C]
  p = torch::where(torch::isfinite(p), p, torch::zeros_like(p)).clamp(1e-300, 1.0);
  // logit = log p − log(1 − p); log1p keeps precision for small p.
  const torch::Tensor logit = (p.log() - torch::log1p(-p.clamp_max(1.0 - 1e-16)))
                                  .clamp(-kLogitRange, kLogitRange);  // [B, C]
  const torch::Tensor bin = ((logit + kLogitRange) * (static_cast<double>(kBins) / (2 * kLogitRange)))
                                .floor()
                                .clamp(0, kBins - 1)
                                .to(torch::kInt64);  // [B, C]
  const torch::Tensor positive = torch::one_hot(labels.to(torch::kCPU), p.size(1)).to(torch::kBool);  // [B, C]
  // Positives go to bins [0, kBins), negatives to [kBins, 2·kBins).
  const torch::Tensor slot = torch::where(positive, bin, bin + kBins).flatten();  // [B · C]
  counts_.index_add_(0, slot, torch::ones_like(slot));
}

double AucHistogram::auc() const {
  const auto* c = counts_.data_ptr<int64_t>();
  double positives = 0, negatives = 0;
  for (int64_t b = 0; b < kBins; ++b) positives += static_cast<double>(c[b]), negatives += static_cast<double>(c[kBins + b]);
  if (positives == 0 || negatives == 0) return std::numeric_limits<double>::quiet_NaN();
  // AUC = P(score_pos > score_neg) + ½ P(tie), scanning bins upwards.
  double below = 0, area = 0;
  for (int64_t b = 0; b < kBins; ++b) {
    const double pos = static_cast<double>(c[b]), neg = static_cast<double>(c[kBins + b]);
    area += pos * (below + 0.5 * neg);
    below += neg;
  }
  return area / (positives * negatives);
}

int64_t eval_batch_for(int64_t configured, const torch::Device& device) {
  if (configured > 0) return configured;
  return device.is_cpu() ? 64 : 1024;
}

ClientEval evaluate_client(FlatModel& model, const Dataset& data, const std::vector<int64_t>& test_indices,
                           const torch::Device& device, AucHistogram& auc, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  model.train(false);
  ClientEval result;
  const int64_t n = static_cast<int64_t>(test_indices.size());
  const torch::Tensor all = indices_on(test_indices, device);  // [n] int64
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t count = std::min(batch_size, n - begin);
    const torch::Tensor idx = all.narrow(0, begin, count);   // [B]
    const torch::Tensor x = data.batch(idx);                  // [B, ...]
    const torch::Tensor y = data.y.index_select(0, idx);      // [B]
    const torch::Tensor logits = model.forward(x);                      // [B, C]
    result.loss_sum += torch::nn::functional::cross_entropy(
                           logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                           .item<double>();
    result.correct += logits.argmax(1).eq(y).sum().item<int64_t>();
    result.tested += count;
    auc.add(torch::softmax(logits, 1), y);
  }
  return result;
}

}  // namespace fedsaf
