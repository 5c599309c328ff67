// fedsaf: no-torch
#include "io/run_records.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fedsaf {

EvalRecord make_eval_record(int64_t round, const std::vector<double>& correct, const std::vector<double>& tested,
                            const std::vector<double>& loss_sum, double auc) {
  EvalRecord r;
  r.round = round;
  r.auc = auc;
  double all_correct = 0, all_tested = 0, all_loss = 0, sum = 0, sum_sq = 0;
  int64_t clients = 0;
  r.client_accuracy.assign(correct.size(), std::numeric_limits<double>::quiet_NaN());
  for (size_t i = 0; i < correct.size(); ++i) {
    all_correct += correct[i];
    all_tested += tested[i];
    all_loss += loss_sum[i];
    if (tested[i] <= 0) continue;
    const double acc = correct[i] / tested[i];
    r.client_accuracy[i] = acc;
    sum += acc;
    sum_sq += acc * acc;
    ++clients;
  }
  if (all_tested > 0) {
    r.accuracy = all_correct / all_tested;
    r.loss = all_loss / all_tested;
  }
  if (clients > 0) {
    r.accuracy_mean = sum / static_cast<double>(clients);
    r.accuracy_std = std::sqrt(std::max(0.0, sum_sq / static_cast<double>(clients) - r.accuracy_mean * r.accuracy_mean));
  }
  return r;
}

RunSummary summarize(const std::vector<EvalRecord>& evals) {
  RunSummary s;
  s.evaluations = static_cast<int64_t>(evals.size());
  if (evals.empty()) return s;
  for (const auto& e : evals)
    if (s.best_round < 0 || e.accuracy > s.best_accuracy) s.best_accuracy = e.accuracy, s.best_round = e.round;
  s.last_accuracy = evals.back().accuracy;
  const size_t k = std::min<size_t>(10, evals.size());
  double sum = 0;
  for (size_t i = evals.size() - k; i < evals.size(); ++i) sum += evals[i].accuracy;
  s.mean_last10 = sum / static_cast<double>(k);
  return s;
}

}  // namespace fedsaf
