// `local`: every client trains only on its own data and never communicates; the lower bound
// that any personalised FL method must beat.
#include "algo/registry.hpp"

#include <map>

namespace fedsaf {
namespace {

class LocalOnly : public Algorithm {
 public:
  std::string name() const override { return "local"; }
  bool personalised() const override { return true; }
  void init(const AlgoContext& context) override {
    context_ = context;
    for (int64_t c : context.hosted) personal_[c] = context.keep(context.initial_params);  // [P] each
  }
  void client_begin(int64_t client, torch::Tensor& params) override { params.copy_(personal_.at(client)); }
  bool trains_clients_together() const override { return true; }
  void client_end(int64_t client, const torch::Tensor& params) override { personal_.at(client).copy_(params); }
  void server_step(const ServerStep&) override {}
  void eval_params(int64_t client, torch::Tensor& params) override { params.copy_(personal_.at(client)); }
  void save_state(StateWriter& out) const override {
    out.per_client("personal", context_.initial_params.numel(), torch::kFloat32, personal_);
  }
  void load_state(StateReader& in) override {
    load_rows(in, "personal", context_.hosted, personal_, context_.keeper(torch::kFloat32));
  }
  int64_t protocol_floats_up() const override { return 0; }
  int64_t protocol_floats_down() const override { return 0; }

 private:
  AlgoContext context_;
  std::map<int64_t, torch::Tensor> personal_;  // hosted client → [P]
};

const bool registered = register_algorithm(
    {10, "local", "(every client trains alone: the lower bound)", {},
     [](const Config&) -> std::unique_ptr<Algorithm> { return std::make_unique<LocalOnly>(); }});

}  // namespace

}  // namespace fedsaf
