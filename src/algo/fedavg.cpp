// FedAvg (McMahan et al. 2017) and FedProx (Li et al. 2020): one global model; the server step
// is the sample-weighted mean of the cohort's models, reduced algebraically: every rank sums
// (Σ n_k·w_k, Σ n_k) over its own reporting clients, one all-reduce, divide once.
#include "algo/fedavg.hpp"

#include "core/errors.hpp"
#include "mpi/communicator.hpp"

namespace fedsaf {

FedAvg::FedAvg(double mu) : mu_(mu) {}

void FedAvg::init(const AlgoContext& context) {
  context_ = context;
  global_ = context.initial_params.clone();                                       // [P] float32
  sum_ = torch::zeros({global_.numel() + 1}, global_.options().dtype(torch::kFloat64));  // [P + 1]
}

void FedAvg::client_begin(int64_t /*client*/, torch::Tensor& params) { params.copy_(global_); }

double FedAvg::add_regularizer_grad(int64_t /*client*/, const torch::Tensor& params, torch::Tensor& grads) {
  if (mu_ == 0.0) return 0.0;  // FedProx with mu = 0 is FedAvg exactly: nothing to add.
  const torch::Tensor diff = params - global_;  // [P]
  grads.add_(diff, mu_);                        // ∇ (mu/2)·‖w − w_global‖² = mu·(w − w_global)
  return 0.5 * mu_ * diff.square().sum().item<double>();
}

void FedAvg::client_end(int64_t client, const torch::Tensor& params) {
  const double n = static_cast<double>(context_.train_sizes.at(static_cast<size_t>(client)));
  const int64_t p = global_.numel();
  sum_.narrow(0, 0, p).add_(params.to(torch::kFloat64), n);  // Σ n_k·w_k in float64
  sum_[p] += n;                                              // Σ n_k
}

void FedAvg::server_step(int64_t /*round*/) {
  context_.comm->allreduce_sum(sum_);  // one call carries both sums
  const int64_t p = global_.numel();
  const double total = sum_[p].item<double>();
  if (total > 0) global_.copy_(sum_.narrow(0, 0, p) / total);
  sum_.zero_();
}

void FedAvg::eval_params(int64_t /*client*/, torch::Tensor& params) { params.copy_(global_); }

}  // namespace fedsaf
