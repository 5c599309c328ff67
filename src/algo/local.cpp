// `local`: every client trains only on its own data and never communicates; the lower bound
// that any personalised FL method must beat.
#include "algo/registry.hpp"

namespace fedsaf {
namespace {

class LocalOnly : public Algorithm {
 public:
  std::string name() const override { return "local"; }
  bool personalised() const override { return true; }
  void init(const AlgoContext& context) override {
    personal_ = &context.states->rows("personal", context.initial_params.numel(), torch::kFloat32);
    initial_ = context.initial_params;  // the personal model of every client until it trains
  }
  void client_begin(int64_t client, torch::Tensor& params) override { params.copy_(personal_->get_or(client, initial_)); }
  LocalTraining local_training() const override { return {/*clients_together=*/true}; }
  void client_end(int64_t client, const torch::Tensor& params, ClientStatistics& /*statistics*/) override {
    personal_->put(client, params);
  }
  void server_step(const ServerStep&) override {}
  void eval_params(int64_t client, torch::Tensor& params) override { client_begin(client, params); }
  ProtocolFloats protocol_floats() const override { return {0, 0}; }

 private:
  RowState* personal_ = nullptr;  // hosted client that has trained → [P]
  torch::Tensor initial_;         // [P] θ⁰
};

const bool registered = register_algorithm(
    {10, "local", "(every client trains alone: the lower bound)", {},
     [](const Config&) -> std::unique_ptr<Algorithm> { return std::make_unique<LocalOnly>(); }});

}  // namespace

}  // namespace fedsaf
