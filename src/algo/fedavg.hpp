#pragma once
#include "algo/algorithm.hpp"

namespace fedsaf {

// The [fedprox] section: config.section<FedProxOptions>().
struct FedProxOptions {
  double mu = 0.01;  // proximal weight; 0 = FedAvg exactly
};

// fedavg (mu = 0) and fedprox (mu > 0: the client adds (mu/2)·‖w − w_global‖² to its loss).
class FedAvg : public Algorithm {
 public:
  explicit FedAvg(double mu = 0.0);
  std::string name() const override { return mu_ > 0 ? "fedprox" : "fedavg"; }
  bool personalised() const override { return false; }
  void init(const AlgoContext& context) override;
  void client_begin(int64_t client, torch::Tensor& params) override;
  double add_regularizer_grad(int64_t client, const torch::Tensor& params, torch::Tensor& grads) override;
  // begin and pull read only global_
  LocalTraining local_training() const override { return {/*clients_together=*/true}; }
  // "model": the cohort's trained models, sample-weighted mean (the new global model).
  std::vector<Statistic> statistics() const override {
    return {{"model", Reduction::weighted_mean, global_.numel()}};
  }
  void client_end(int64_t client, const torch::Tensor& params, ClientStatistics& statistics) override;
  void server_step(const ServerStep& step) override;
  void eval_params(int64_t client, torch::Tensor& params) override;
  ProtocolFloats protocol_floats() const override { return {global_.numel(), global_.numel()}; }
  void save_state(StateWriter& out) const override { out.global("global", global_); }
  void load_state(StateReader& in) override { restore_into(global_, in.global("global"), "global"); }
  const torch::Tensor& global_model() const { return global_; }  // [P]

 private:
  double mu_;
  torch::Tensor global_;  // [P] float32, identical on every rank
};

}  // namespace fedsaf
