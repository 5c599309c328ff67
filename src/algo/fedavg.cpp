// FedAvg (McMahan et al. 2017) and FedProx (Li et al. 2020): one global model; the server step
// takes the engine's sample-weighted mean of the cohort's models (ServerStep::average).
#include "algo/fedavg.hpp"


namespace fedsaf {

FedAvg::FedAvg(double mu) : mu_(mu) {}

void FedAvg::init(const AlgoContext& context) {
  global_ = context.initial_params.clone();  // [P] float32
}

void FedAvg::client_begin(int64_t /*client*/, torch::Tensor& params) { params.copy_(global_); }

double FedAvg::add_regularizer_grad(int64_t /*client*/, const torch::Tensor& params, torch::Tensor& grads) {
  if (mu_ == 0.0) return 0.0;  // FedProx with mu = 0 is FedAvg exactly: nothing to add.
  const torch::Tensor diff = params - global_;  // [P]
  grads.add_(diff, mu_);                        // ∇ (mu/2)·‖w − w_global‖² = mu·(w − w_global)
  return 0.5 * mu_ * diff.square().sum().item<double>();
}

void FedAvg::server_step(const ServerStep& step) {
  if (step.average.defined()) global_.copy_(step.average);  // undefined: nobody trained
}

void FedAvg::eval_params(int64_t /*client*/, torch::Tensor& params) { params.copy_(global_); }

}  // namespace fedsaf
