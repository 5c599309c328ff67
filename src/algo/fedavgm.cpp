// FedAvgM (Hsu, Qi & Brown 2019, "Measuring the effects of non-identical data distribution for
// federated visual classification"): FedAvg with server momentum. The server treats the step to
// the cohort's sample-weighted mean, Δ = mean − global, as a pseudo-gradient:
//   v ← β·v + Δ,   global ← global + η·v      (β = fedavgm.momentum, η = fedavgm.server_lr)
// β = 0, η = 1 is FedAvg. The worked example of docs/adding-an-algorithm.md.
#include <limits>

#include "algo/registry.hpp"

namespace fedsaf {
namespace {

// The [fedavgm] section: config.section<FedAvgMOptions>().
struct FedAvgMOptions {
  double momentum = 0.9;   // β
  double server_lr = 1.0;  // η
};

class FedAvgM : public Algorithm {
 public:
  explicit FedAvgM(const FedAvgMOptions& options) : options_(options) {}
  std::string name() const override { return "fedavgm"; }
  bool personalised() const override { return false; }

  void init(const AlgoContext& context) override {
    global_ = context.initial_params.clone();                  // [P] float32
    velocity_ = torch::zeros_like(global_, torch::kFloat64);  // [P] float64
  }

  void client_begin(int64_t /*client*/, torch::Tensor& params) override { params.copy_(global_); }
  LocalTraining local_training() const override { return {/*clients_together=*/true}; }

  // "model": the engine's sample-weighted mean of every trained model (all P parameters).
  std::vector<Statistic> statistics() const override {
    return {{"model", Reduction::weighted_mean, global_.numel()}};
  }
  void client_end(int64_t /*client*/, const torch::Tensor& params, ClientStatistics& statistics) override {
    statistics.put("model", params);  // [P]
  }

  void server_step(const ServerStep& step) override {
    const torch::Tensor& mean = step.statistics.at("model");  // [P]
    if (!mean.defined()) return;                              // nobody trained
    const torch::Tensor global = global_.to(torch::kFloat64);  // [P]
    velocity_.mul_(options_.momentum).add_(mean.to(torch::kFloat64) - global);
    global_.copy_(global + options_.server_lr * velocity_);
  }

  void eval_params(int64_t /*client*/, torch::Tensor& params) override { params.copy_(global_); }
  ProtocolFloats protocol_floats() const override { return {global_.numel(), global_.numel()}; }

  void save_state(StateWriter& out) const override {
    out.global("global", global_);
    out.global("velocity", velocity_);
  }
  void load_state(StateReader& in) override {
    restore_into(global_, in.global("global"), "global");
    restore_into(velocity_, in.global("velocity"), "velocity");
  }

 private:
  FedAvgMOptions options_;
  torch::Tensor global_;    // [P] float32, identical on every rank
  torch::Tensor velocity_;  // [P] float64 v, identical on every rank
};

const bool registered = register_algorithm(
    {70, "fedavgm", "(FedAvgM: FedAvg with server momentum, [fedavgm] keys)",
     {{"fedavgm.momentum", "fedavgm: server momentum β of v ← β·v + (mean − global); 0 with server_lr = 1 is fedavg.",
       [](Config& c) -> ConfigValueRef { return &c.section<FedAvgMOptions>().momentum; }, 0, 1},
      {"fedavgm.server_lr", "fedavgm: server step η of global ← global + η·v.",
       [](Config& c) -> ConfigValueRef { return &c.section<FedAvgMOptions>().server_lr; }, 0,
       std::numeric_limits<double>::infinity(), true}},
     [](const Config& c) -> std::unique_ptr<Algorithm> { return std::make_unique<FedAvgM>(c.section<FedAvgMOptions>()); }});

}  // namespace
}  // namespace fedsaf
