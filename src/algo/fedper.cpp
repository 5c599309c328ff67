// FedPer (Arivazhagan et al. 2019): the first n_head layers θˢ are shared and averaged by sample
// weight over the cohort (the engine's reduction of the statistic "shared", as FedAvg's "model"); the remaining layers θᴾ
// stay with each client and are never sent.
//
// Evaluation: each client is scored on the personal model it would start the next round with,
// i.e. the freshly averaged global θˢ plus its own latest θᴾ (θᴾ⁰ for a client never selected).
#include "algo/registry.hpp"

namespace fedsaf {
namespace {

class FedPer : public Algorithm {
 public:
  std::string name() const override { return "fedper"; }
  bool personalised() const override { return true; }

  void init(const AlgoContext& context) override {
    const int64_t p = context.initial_params.numel();
    s_ = context.shared_numel;
    shared_ = context.initial_params.narrow(0, 0, s_).clone();  // [S]
    private_ = &context.states->rows("private", p - s_, torch::kFloat32);
    initial_private_ = context.initial_params.narrow(0, s_, p - s_);  // [P − S] θᴾ⁰ of every client until it trains
  }

  void client_begin(int64_t client, torch::Tensor& params) override {
    params.narrow(0, 0, s_).copy_(shared_);
    params.narrow(0, s_, params.numel() - s_).copy_(private_->get_or(client, initial_private_));
  }

  std::vector<Statistic> statistics() const override { return {{"shared", Reduction::weighted_mean, s_}}; }
  void client_end(int64_t client, const torch::Tensor& params, ClientStatistics& statistics) override {
    private_->put(client, params.narrow(0, s_, params.numel() - s_));
    statistics.put("shared", params.narrow(0, 0, s_));  // [S]
  }
  LocalTraining local_training() const override { return {/*clients_together=*/true}; }

  void server_step(const ServerStep& step) override {
    const torch::Tensor& mean = step.statistics.at("shared");  // [S]
    if (mean.defined()) shared_.copy_(mean);                   // undefined: nobody trained
  }

  void eval_params(int64_t client, torch::Tensor& params) override { client_begin(client, params); }

  ProtocolFloats protocol_floats() const override { return {s_, s_}; }
  void save_state(StateWriter& out) const override { out.global("shared", shared_); }
  void load_state(StateReader& in) override { restore_into(shared_, in.global("shared"), "shared"); }

 private:
  int64_t s_ = 0;                   // |θˢ|
  torch::Tensor shared_;            // [S] float32, identical on every rank
  RowState* private_ = nullptr;   // hosted client that has trained → [P − S]
  torch::Tensor initial_private_;   // [P − S] θᴾ⁰
};

const bool registered = register_algorithm(
    {40, "fedper", "(FedPer: the first model.n_head layers averaged, the rest personal)", {},
     [](const Config&) -> std::unique_ptr<Algorithm> { return std::make_unique<FedPer>(); }});

}  // namespace

}  // namespace fedsaf
