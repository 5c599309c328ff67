// FedAMP (Huang et al., AAAI 2021), the paper's version (docs/algorithms.md#fedamp): every client
// keeps its own whole model w_i. From round 1 on, for each selected client i the server side computes
// d_ij = ‖w_i − w_j‖² against the latest uploads of all clients (held by their owning ranks, moved
// by PairwiseExchange), ξ by the attention kernel with the guard, and u_i = Σ_j ξ_ij w_j. Client i
// trains from w_i with CE + (λ/(2α_K))·‖w − u_i‖² and uploads w_i.
//
// The upload of a client is its personal model itself, so the owner's held copy is w_i (no second
// copy). The query of row i is w_i, so ξ_ii's own term comes from the query (SelfTerm) and the
// own column is zeroed in the mix: a selected client that never uploaded still weighs ξ_ii.
//
// fedamp.pfllib_compat = true: the proximal term carries no gradient (PFLlib), so training is
// exactly `local`'s; the attention is still computed (and reported) but changes nothing.
#include <fmt/format.h>

#include <map>
#include <memory>

#include "algo/attention.hpp"
#include "algo/attention_mix.hpp"
#include "algo/pairwise.hpp"
#include "algo/registry.hpp"
#include "algo/row_buffer.hpp"
#include "core/errors.hpp"
#include "core/stopwatch.hpp"

namespace fedsaf {

namespace {

const auto kI64 = torch::TensorOptions().dtype(torch::kInt64);

// The [fedamp] section: config.section<FedAmpOptions>() (the kernel's keys are [attention]'s).
struct FedAmpOptions {
  bool pfllib_compat = false;  // proximal term without gradient (PFLlib); trains like `local`
};

class FedAmp : public Algorithm {
 public:
  FedAmp(const AttentionOptions& attention, const FedAmpOptions& options)
      : attention_(attention), compat_(options.pfllib_compat),
        coef_(attention.lambda / attention.alpha_k) {}  // ∇ (λ/(2α_K))‖w − u‖² = (λ/α_K)(w − u)
  std::string name() const override { return "fedamp"; }
  bool personalised() const override { return true; }

  void init(const AlgoContext& context) override {
    context_ = context;
    check_xi_storage(attention_.every, context.num_clients);
    exchange_ = context.make_exchange(attention_.exchange, attention_.precision);
    personal_ = &context.states->rows("personal", context.initial_params.numel(), torch::kFloat32);
    uploaded_ = &context.states->flags("uploaded");
  }

  void round_begin(int64_t round, const std::vector<int64_t>& cohort) override {
    report_ = AttentionReport{};
    report_.round = round;
    u_.clear();
    if (round == 0) return;  // no uploads yet: every client starts from θ⁰ and trains like local
    const auto start = Clock::now();
    const int64_t p = context_.initial_params.numel();
    // This rank's held uploads: the latest model of each hosted client that has uploaded.
    const std::vector<int64_t> held_ids(uploaded_->clients().begin(), uploaded_->clients().end());
    const torch::Tensor held_params = personal_->gather(held_ids, p, &held_params_);  // [m, P]
    exchange_->set_held({torch::tensor(held_ids, kI64), held_params, torch::Tensor(), torch::Tensor()});
    std::vector<int64_t> rows;
    for (int64_t c : cohort)
      if (context_.hosts(c)) rows.push_back(c);
    const int64_t k = static_cast<int64_t>(rows.size());
    MixRows mix_rows;
    mix_rows.params = personal_->gather_or(rows, p, context_.initial_params, &query_params_);  // [k, P]
    mix_rows.clients = torch::tensor(rows, kI64);      // [k]
    mix_rows.sigma_rows = torch::ones({k}, torch::kBool);  // [k]
    const Mix mix = attention_mix(*exchange_, attention_, context_.train_sizes, mix_rows,
                                  stores_xi(round, attention_.every));  // u: [k', P], row i's mix u[u_row[i]]
    for (int64_t i = 0; i < k; ++i)
      u_[rows[static_cast<size_t>(i)]] = mix.row(static_cast<size_t>(i)).to(context_.initial_params.device());  // [P]
    add_to_report(report_, mix, mix_rows.clients, seconds_since(start), *exchange_);
  }

  // A client that has never trained still holds θ⁰ (kept once, not per client).
  void client_begin(int64_t client, torch::Tensor& params) override {
    params.copy_(personal_->get_or(client, context_.initial_params));
  }
  // The pull reads u_ by client.
  LocalTraining local_training() const override { return {/*clients_together=*/true}; }

  double add_regularizer_grad(int64_t client, const torch::Tensor& params, torch::Tensor& grads) override {
    const auto it = u_.find(client);
    if (it == u_.end()) return 0.0;  // round 0
    const torch::Tensor diff = params - it->second;  // [P]
    if (!compat_) grads.add_(diff, coef_);          // PFLlib's term has no gradient
    return 0.5 * coef_ * diff.square().sum().item<double>();
  }

  void client_end(int64_t client, const torch::Tensor& params, ClientStatistics& /*statistics*/) override {
    personal_->put(client, params);  // the upload is the personal model itself
    uploaded_->insert(client);
  }

  void server_step(const ServerStep& /*step*/) override {}  // uploads stay with their owners

  void eval_params(int64_t client, torch::Tensor& params) override { client_begin(client, params); }

  ProtocolFloats protocol_floats() const override {
    return {context_.initial_params.numel(), context_.initial_params.numel()};
  }
  Diagnostics diagnostics(int64_t round) const override {
    Diagnostics out;
    add_attention_diagnostics(out, report_, round, attention_.every, context_.num_clients);
    return out;
  }

 private:
  AlgoContext context_;
  AttentionOptions attention_;
  bool compat_ = false;
  double coef_ = 0;                               // λ/α_K
  std::unique_ptr<PairwiseExchange> exchange_;
  RowState* personal_ = nullptr;     // hosted client that has trained → w_i [P] (= its latest upload)
  RowBuffer held_params_, query_params_;  // round_begin's held uploads [m, P] and rows [k, P], kept (row_buffer.hpp)
  FlagState* uploaded_ = nullptr;    // hosted clients that have uploaded
  // This round's hosted cohort → u_i [P]: a working value of the round, recomputed in round_begin
  // from the states above (so neither checkpointed nor moved).
  std::map<int64_t, torch::Tensor> u_;
  AttentionReport report_;
};

const bool registered = register_algorithm(
    {50, "fedamp", "(FedAMP: attentive message passing between personal models, [attention] keys)",
     {{"fedamp.pfllib_compat", "Reproduce PFLlib's FedAMP, whose proximal term carries no gradient (it then trains exactly like `local`). Only for comparison.",
       [](Config& c) -> ConfigValueRef { return &c.section<FedAmpOptions>().pfllib_compat; }}},
     [](const Config& c) -> std::unique_ptr<Algorithm> {
       return std::make_unique<FedAmp>(c.section<AttentionOptions>(), c.section<FedAmpOptions>());
     }});

}  // namespace

}  // namespace fedsaf
