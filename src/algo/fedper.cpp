// FedPer (Arivazhagan et al. 2019): the first n_head layers θˢ are shared and averaged by sample
// weight over the cohort (the engine's ServerStep::average, as FedAvg's); the remaining layers θᴾ
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
    for (int64_t c : context.hosted) private_->put(c, context.initial_params.narrow(0, s_, p - s_));  // [P − S]
  }

  void client_begin(int64_t client, torch::Tensor& params) override {
    params.narrow(0, 0, s_).copy_(shared_);
    params.narrow(0, s_, params.numel() - s_).copy_(private_->get(client));
  }

  void client_end(int64_t client, const torch::Tensor& params) override {
    private_->put(client, params.narrow(0, s_, params.numel() - s_));
  }
  bool trains_clients_together() const override { return true; }

  int64_t averaged_numel() const override { return s_; }
  void server_step(const ServerStep& step) override {
    if (step.average.defined()) shared_.copy_(step.average);  // undefined: nobody trained
  }

  void eval_params(int64_t client, torch::Tensor& params) override { client_begin(client, params); }

  int64_t protocol_floats_up() const override { return s_; }
  int64_t protocol_floats_down() const override { return s_; }
  void save_state(StateWriter& out) const override { out.global("shared", shared_); }
  void load_state(StateReader& in) override { restore_into(shared_, in.global("shared"), "shared"); }

 private:
  int64_t s_ = 0;                   // |θˢ|
  torch::Tensor shared_;            // [S] float32, identical on every rank
  RowState* private_ = nullptr;   // hosted client → [P − S]
};

const bool registered = register_algorithm(
    {40, "fedper", "(FedPer: the first model.n_head layers averaged, the rest personal)", {},
     [](const Config&) -> std::unique_ptr<Algorithm> { return std::make_unique<FedPer>(); }});

}  // namespace

}  // namespace fedsaf
