// FedAvg (McMahan et al. 2017) and FedProx (Li et al. 2020): one global model; the server step
// takes the engine's sample-weighted mean of the cohort's models (the statistic "model").
#include "algo/fedavg.hpp"

#include <limits>

#include "algo/registry.hpp"


namespace fedsaf {

namespace {

const bool fedavg_registered = register_algorithm(
    {20, "fedavg", "(FedAvg: one global model, the sample-weighted mean of the cohort's)", {},
     [](const Config&) -> std::unique_ptr<Algorithm> { return std::make_unique<FedAvg>(0.0); }});

const bool fedprox_registered = register_algorithm(
    {30, "fedprox", "(FedProx: FedAvg with the proximal term fedprox.mu)",
     {{"fedprox.mu", "fedprox: weight of the proximal term (mu/2)·‖w − w_global‖²; 0 trains exactly like fedavg.",
       [](Config& c) -> ConfigValueRef { return &c.section<FedProxOptions>().mu; }, 0,
       std::numeric_limits<double>::infinity()}},
     [](const Config& c) -> std::unique_ptr<Algorithm> {
       return std::make_unique<FedAvg>(c.section<FedProxOptions>().mu);
     }});

}  // namespace

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

void FedAvg::client_end(int64_t /*client*/, const torch::Tensor& params, ClientStatistics& statistics) {
  statistics.put("model", params);  // [P]
}

void FedAvg::server_step(const ServerStep& step) {
  const torch::Tensor& mean = step.statistics.at("model");  // [P]
  if (mean.defined()) global_.copy_(mean);                  // undefined: nobody trained
}

void FedAvg::eval_params(int64_t /*client*/, torch::Tensor& params) { params.copy_(global_); }

}  // namespace fedsaf
