// FedSAF, as defined in docs/algorithms.md#fedsaf: the model is split at n_head into the shared
// part θˢ (uploaded) and the private part θᴾ (never leaves the client). Per round:
//   1. attention on θˢ only (kernel fedamp / heur / samples) against the latest uploads of all
//      clients, moved between ranks by PairwiseExchange;
//   2. a Fisher-weighted per-parameter mix u_iˢ[p] = Σ_j ξ_ij w_j[p] θˢ_j[p] / Σ_j ξ_ij w_j[p] with
//      w_j = F̂_j + δ (fisher_mode param), one weight mean(F_j) per client (scalar) or 1 (none);
//   3. θˢ_i ← u_iˢ (init_from_cloud) or a proximal pull (λ_p/2)‖θˢ − u_iˢ‖²; θᴾ_i kept; E epochs
//      (deep_mode frozen: only θˢ is updated, via local_training().trainable);
//   4. the empirical Fisher diagonal F_i of θˢ after training (extra_pass, in clients_trained) or
//      accumulated over the last epoch (last_epoch, in add_regularizer_grad), then upload θˢ_i, F_i.
//
// WHEN THE MIX IS COMPUTED (docs/algorithms.md#when-the-mix-is-computed). The definition mixes at
// the start of round t for the cohort of t (none at t = 0). Here the mix for round t + 1 is
// computed at the end of round t (server_step), for the hosted clients of cohort t + 1 (the engine
// passes it in ServerStep; round_begin recomputes if the cohort it gets differs) and, on evaluation
// rounds (ServerStep::evaluates), for every hosted client it evaluates (ServerStep::eval_clients,
// run.eval_clients): a client is evaluated on the personal
// model it would start the next round with, u_iˢ + θᴾ_i (with init_from_cloud = false: its own θˢ_i
// + θᴾ_i), exactly FedPer's evaluation, so that fedsaf(samples, fisher none) ≡ fedper and, with
// n_head = L, ≡ fedavg. σ = "auto" is the median over the rows of cohort t + 1 only, so evaluating
// does not change training. Evaluation rounds therefore cost one pairwise pass with up to N query
// rows (|cohort ∪ eval_clients|) instead of |cohort| rows; rows of never-trained clients that hold
// the same model are computed once (algo/shared_rows.hpp).
//
// STATE (all with the rank that owns the client): θ_i [P] (θˢ_i is also the held copy of its
// latest upload: after training they are equal and θˢ_i only changes by training), the Fisher
// weight of the latest upload, and the latest mix u_iˢ [S].
//
// fisher_source = last_epoch is exact: the trainer calls add_regularizer_grad right after
// backward(), before weight decay and momentum, so `grads` holds the plain mean-batch CE gradient;
// it is accumulated before the proximal pull is added. The last epoch's batches are recognised by
// counting (the batch count per epoch follows from n_i and B exactly as epoch_batches cuts them).
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "algo/attention.hpp"
#include "algo/attention_mix.hpp"
#include "algo/pairwise.hpp"
#include "algo/registry.hpp"
#include "algo/row_buffer.hpp"
#include "client/fisher.hpp"
#include "core/errors.hpp"
#include "core/stopwatch.hpp"
#include "model/tensor_values.hpp"

namespace fedsaf {

namespace {

const auto kI64 = torch::TensorOptions().dtype(torch::kInt64);
const auto kF32 = torch::TensorOptions().dtype(torch::kFloat32);

// The [fedsaf] section: config.section<FedSafOptions>() (the kernel's keys are [attention]'s).
enum class FisherMode { param, scalar, none };
enum class FisherSource { extra_pass, last_epoch };
enum class DeepMode { train, frozen };
struct FedSafOptions {
  FisherMode fisher_mode = FisherMode::param;  // per parameter, one weight per client, or no Fisher
  FisherNorm fisher_norm = FisherNorm::per_tensor;
  double delta = 1e-3;                         // δ added to the normalised Fisher
  int64_t fisher_batches = 0;                  // batches of the Fisher pass; 0 = one full pass
  FisherSource fisher_source = FisherSource::extra_pass;
  bool init_from_cloud = true;                 // θˢ_i ← u_iˢ; false: proximal pull instead
  double prox_lambda = 1.0;                    // λ_p of the pull (init_from_cloud = false)
  DeepMode deep_mode = DeepMode::train;        // private layers trained or frozen
};

// Per shared parameter tensor, statistics of Fisher diagonals: one client's (its client_end
// statistics "fisher_sum", "fisher_count", "fisher_max") or, reduced by the engine, those of every
// client that trained in a round (the run file's /fisher statistics).
struct FisherSums {
  int64_t round = -1;   // the round of reduced sums; -1 = nothing reduced yet
  torch::Tensor sum;    // [T] float64: Σ of F over the clients and the tensor's elements
  torch::Tensor count;  // [T] float64: how many values entered sum
  torch::Tensor max;    // [T] float64: the largest F (−∞ when count is 0)
};

// fisher: [S] one client's Fisher diagonal → its statistics per shared tensor ([T] float64 each).
FisherSums fisher_sums_of(const torch::Tensor& fisher, const std::vector<int64_t>& tensor_sizes) {
  const std::vector<torch::Tensor> parts = fisher.to(torch::kFloat64).split_with_sizes(tensor_sizes);
  const auto t = static_cast<int64_t>(parts.size());
  FisherSums out{-1, torch::empty({t}, torch::kFloat64), torch::empty({t}, torch::kFloat64),
                 torch::empty({t}, torch::kFloat64)};
  for (int64_t i = 0; i < t; ++i) {
    const torch::Tensor& part = parts[static_cast<size_t>(i)];  // [numel of tensor i]
    out.sum[i] = part.sum();
    out.count[i] = static_cast<double>(part.numel());
    out.max[i] = part.max();
  }
  return out;
}

// The run file's /fisher statistics of `round` from the engine's reduction (zero counts, i.e.
// NaN means, when `sums` belong to another round).
PartStatistics fisher_statistics(const FisherSums& sums, int64_t round, const std::vector<std::string>& tensor_names) {
  PartStatistics fisher;
  fisher.group = "fisher";
  fisher.names_path = "tensors";
  fisher.of = "the empirical Fisher diagonal F over the round's trained clients and the tensor's elements";
  fisher.names = tensor_names;
  fisher.across = Across::same;  // reduced over every rank by the engine already
  const bool fresh = sums.round == round;
  const torch::Tensor none = torch::zeros({static_cast<int64_t>(tensor_names.size())}, torch::kFloat64);  // [T]
  fisher.sum = to_doubles(fresh ? sums.sum : none);
  fisher.count = to_doubles(fresh ? sums.count : none);
  fisher.max = to_doubles(fresh ? sums.max : none);
  return fisher;
}

// A plan from a checkpoint must fit this run of n clients: a planned round of −1 (none) or more,
// and a cohort of distinct clients of this run (issue 25 §6: a plan of clients that do not exist
// was taken as is). Throws IoError naming the state.
void check_plan(int64_t round, const std::vector<int64_t>& cohort, int64_t n) {
  const auto bad = [&](const std::string& what) {
    throw IoError(fmt::format("state 'plan' (round {}, then {} client(s)): {}", round, cohort.size(), what));
  };
  if (round < -1) bad(fmt::format("planned round index {} is negative", round));
  if (static_cast<int64_t>(cohort.size()) > n) bad(fmt::format("more clients than this run's {}", n));
  std::set<int64_t> seen;
  for (int64_t c : cohort) {
    if (c < 0 || c >= n) bad(fmt::format("client {} is not a client of this run (ids 0..{})", c, n - 1));
    if (!seen.insert(c).second) bad(fmt::format("client {} appears twice", c));
  }
}

class FedSaf : public Algorithm {
 public:
  FedSaf(const FedSafOptions& options, const AttentionOptions& attention) : options_(options), attention_(attention) {}
  std::string name() const override { return "fedsaf"; }
  bool personalised() const override { return true; }

  void init(const AlgoContext& context) override {
    context_ = context;
    s_ = context.shared_numel;
    check_xi_storage(attention_.every, context.num_clients);
    exchange_ = context.make_exchange(attention_.exchange, attention_.precision);
    // Declared in the order the checkpoint has always listed them.
    ClientStateStore& states = *context.states;
    theta_ = &states.rows("theta", context.initial_params.numel(), torch::kFloat32);
    uploaded_ = &states.flags("uploaded");
    weight_ = &states.rows("fisher_weight", s_, torch::kFloat32);
    scalar_ = &states.scalars("fisher_scalar");
    mix_ = &states.rows("mix", s_, torch::kFloat32,
                        options_.init_from_cloud ? RowsHeldBy::mixed_cohorts_and_evaluated : RowsHeldBy::mixed_cohorts);
    neutral_weight_ = torch::full({s_}, 1.0 + options_.delta, kF32);  // [S]
  }

  void round_begin(int64_t round, const std::vector<int64_t>& cohort) override {
    round_ = round;
    report_ = AttentionReport{};
    report_.round = round;
    if (round == 0) return;  // no attention in round 0: every client starts from θ⁰
    if (planned_round_ == round && planned_cohort_ == cohort) return;  // mixed in server_step(round − 1)
    // The engine's cohort is not the one planned for: mix now (every rank sees the same cohort,
    // so every rank takes this branch together).
    std::vector<int64_t> rows;
    for (int64_t c : cohort)
      if (context_.hosts(c)) rows.push_back(c);
    compute_mix(rows, std::vector<bool>(rows.size(), true));
    planned_round_ = round;
    planned_cohort_ = cohort;
  }

  void client_begin(int64_t client, torch::Tensor& params) override {
    params.copy_(theta_->get_or(client, context_.initial_params));
    const bool mixed = round_ > 0 && mix_->has(client);
    if (mixed && options_.init_from_cloud) params.narrow(0, 0, s_).copy_(mix_->get(client));
    pull_ = mixed && !options_.init_from_cloud ? mix_->get(client).to(params.device()) : torch::Tensor();
    // last_epoch Fisher: count this client's batches to recognise the last epoch's.
    last_epoch_acc_.reset();
    if (options_.fisher_mode != FisherMode::none && options_.fisher_source == FisherSource::last_epoch) {
      const TrainConfig& t = context_.train;
      const int64_t n = context_.train_sizes.at(static_cast<size_t>(client));
      const int64_t per_epoch = n / t.batch_size > 0 ? n / t.batch_size : (n > 0 ? 1 : 0);  // as epoch_batches
      first_fisher_batch_ = (t.local_epochs - 1) * per_epoch;
      batch_ = 0;
      last_epoch_acc_.emplace(s_);
    }
  }

  double add_regularizer_grad(int64_t /*client*/, const torch::Tensor& params, torch::Tensor& grads) override {
    // Here grads is still the plain CE gradient: accumulate it before adding anything.
    if (last_epoch_acc_ && batch_++ >= first_fisher_batch_) last_epoch_acc_->add(grads);
    if (!pull_.defined()) return 0.0;
    const double lambda = options_.prox_lambda;
    const torch::Tensor diff = params.narrow(0, 0, s_) - pull_;  // [S]
    grads.narrow(0, 0, s_).add_(diff, lambda);                   // ∇ (λ_p/2)‖θˢ − u_iˢ‖²
    return 0.5 * lambda * diff.square().sum().item<double>();
  }

  LocalTraining local_training() const override {
    LocalTraining out;
    // pull_ and the last-epoch Fisher accumulator belong to the client begun last: only without them.
    out.clients_together = options_.init_from_cloud && (options_.fisher_mode == FisherMode::none ||
                                                        options_.fisher_source == FisherSource::extra_pass);
    if (options_.deep_mode == DeepMode::frozen) out.trainable = s_;
    return out;
  }

  // The Fisher diagonal of every client that trained: accumulated over its last epoch, from an
  // extra pass with its model loaded, or (clients trained together, only with extra_pass: see
  // local_training) one stacked extra pass for the group.
  void clients_trained(const TrainedClients& trained) override {
    const FedSafOptions& f = options_;
    if (f.fisher_mode == FisherMode::none) return;
    FlatModel& model = trained.model;
    const FisherPass pass = fisher_pass(trained.round);
    if (trained.stacked.defined()) {
      const torch::Tensor fisher = fisher_diagonals_stacked(model, trained.stacked, trained.data, trained.clients, pass,
                                                            model.params().device());  // [G, S]
      for (size_t i = 0; i < trained.clients.size(); ++i)
        use_fisher(trained.clients[i].client, fisher[static_cast<int64_t>(i)]);
      return;
    }
    const StackedClient& one = trained.clients.at(0);
    use_fisher(one.client, f.fisher_source == FisherSource::last_epoch
                               ? last_epoch_acc_->value()
                               : fisher_diagonal(model, trained.data, *one.train_indices, one.client, pass,
                                                 model.params().device()));  // [S]
  }

  // Declared when there is a Fisher: its per-tensor statistics, summed and maximised by the engine.
  std::vector<Statistic> statistics() const override {
    if (options_.fisher_mode == FisherMode::none) return {};
    const auto t = static_cast<int64_t>(context_.shared_tensor_sizes.size());
    return {{"fisher_sum", Reduction::sum, t}, {"fisher_count", Reduction::sum, t}, {"fisher_max", Reduction::max, t}};
  }

  // A trained client's Fisher diagonal ([S] float32, CPU): its statistics and its weight.
  void use_fisher(int64_t client, const torch::Tensor& fisher) {
    const FedSafOptions& f = options_;
    client_fisher_[client] = fisher_sums_of(fisher, context_.shared_tensor_sizes);
    if (f.fisher_mode == FisherMode::param)
      weight_->put(client, fisher_param_weight(fisher, context_.shared_tensor_sizes, f.fisher_norm, f.delta));  // [S]
    else
      scalar_->put(client, fisher_scalar_weight(fisher));
  }

  void client_end(int64_t client, const torch::Tensor& params, ClientStatistics& statistics) override {
    theta_->put(client, params);  // θˢ_i is now also the held copy of the upload
    uploaded_->insert(client);
    const auto it = client_fisher_.find(client);
    if (it == client_fisher_.end()) return;  // fisher_mode none
    statistics.put("fisher_sum", it->second.sum);      // [T]
    statistics.put("fisher_count", it->second.count);  // [T]
    statistics.put("fisher_max", it->second.max);      // [T]
    client_fisher_.erase(it);
  }

  void server_step(const ServerStep& step) override {
    if (options_.fisher_mode != FisherMode::none)
      fisher_sums_ = {step.round, step.statistics.at("fisher_sum"), step.statistics.at("fisher_count"),
                      step.statistics.at("fisher_max")};
    const bool eval_mix = step.evaluates && options_.init_from_cloud;
    if (step.last && !eval_mix) return;
    // [N] flags, not sets: an evaluation of every client lists all N of them.
    const auto flags = [n = context_.num_clients](const std::vector<int64_t>& clients) {
      std::vector<char> flag(static_cast<size_t>(n), 0);
      for (int64_t c : clients) flag[static_cast<size_t>(c)] = 1;
      return flag;
    };
    const std::vector<char> in_cohort = flags(step.next_cohort);
    const std::vector<char> evaluated = eval_mix ? flags(step.eval_clients) : std::vector<char>{};
    std::vector<int64_t> rows;
    std::vector<bool> sigma_rows;
    for (int64_t c : context_.hosted) {
      const bool next = in_cohort[static_cast<size_t>(c)] != 0;
      if (!next && !(eval_mix && evaluated[static_cast<size_t>(c)])) continue;
      rows.push_back(c);
      sigma_rows.push_back(next);
    }
    compute_mix(rows, sigma_rows);
    planned_round_ = step.round + 1;
    planned_cohort_ = step.next_cohort;
  }

  void eval_params(int64_t client, torch::Tensor& params) override {
    params.copy_(theta_->get_or(client, context_.initial_params));
    if (options_.init_from_cloud && mix_->has(client)) params.narrow(0, 0, s_).copy_(mix_->get(client));
  }

  ProtocolFloats protocol_floats() const override {
    const FisherMode mode = options_.fisher_mode;
    return {s_ + (mode == FisherMode::param ? s_ : mode == FisherMode::scalar ? 1 : 0), s_};  // up: θˢ_i and its Fisher
  }
  Diagnostics diagnostics(int64_t round) const override {
    Diagnostics out;
    add_attention_diagnostics(out, report_, round, attention_.every, context_.num_clients);
    if (options_.fisher_mode != FisherMode::none)
      out.parts.push_back(fisher_statistics(fisher_sums_, round, context_.shared_tensor_names));
    return out;
  }
  // The client states (the mix for the next round among them: computed in server_step, it is not
  // recomputed on resume, since σ = "auto" depends on which rows were mixed together) are the
  // store's; the plan is the algorithm's own.
  void save_state(StateWriter& out) const override {
    std::vector<int64_t> plan{planned_round_};  // planned round, then its cohort
    plan.insert(plan.end(), planned_cohort_.begin(), planned_cohort_.end());
    out.global("plan", torch::tensor(plan, kI64));
  }
  void load_state(StateReader& in) override {
    const torch::Tensor plan = in.global("plan").to(torch::kInt64).contiguous();  // [1 + |cohort|]
    if (plan.numel() < 1) throw IoError("state 'plan': empty, expected the planned round, then its cohort");
    planned_round_ = plan[0].item<int64_t>();
    planned_cohort_.assign(plan.data_ptr<int64_t>() + 1, plan.data_ptr<int64_t>() + plan.numel());
    check_plan(planned_round_, planned_cohort_, context_.num_clients);
  }

 private:

  // Collective: the mix u_iˢ for the hosted clients `rows` (ascending) from every rank's latest
  // uploads; sigma_rows marks the rows that define σ = "auto".
  void compute_mix(const std::vector<int64_t>& rows, const std::vector<bool>& sigma_rows) {
    const auto start = Clock::now();
    const FisherMode mode = options_.fisher_mode;
    std::vector<int64_t> held_ids(uploaded_->clients().begin(), uploaded_->clients().end());
    const int64_t m = static_cast<int64_t>(held_ids.size()), k = static_cast<int64_t>(rows.size());
    HeldUploads held;
    held.ids = torch::tensor(held_ids, kI64);  // [m]
    held.params = theta_->gather(held_ids, s_, &held_params_);  // [m, S]
    torch::Tensor self_weights, self_scalar;
    if (mode == FisherMode::param) {
      held.weights = weight_->gather_or(held_ids, s_, neutral_weight_, &held_weights_);  // [m, S]
      self_weights = weight_->gather_or(rows, s_, neutral_weight_, &self_weights_);      // [k, S]
    } else if (mode == FisherMode::scalar) {
      held.scalar = torch::empty({m}, kF32);  // [m]
      for (int64_t r = 0; r < m; ++r) held.scalar[r] = scalar_or_neutral(held_ids[static_cast<size_t>(r)]);
      self_scalar = torch::empty({k}, kF32);  // [k]
      for (int64_t r = 0; r < k; ++r) self_scalar[r] = scalar_or_neutral(rows[static_cast<size_t>(r)]);
    }
    exchange_->set_held(held);
    MixRows mix_rows;
    mix_rows.params = theta_->gather_or(rows, s_, context_.initial_params, &query_params_);  // [k, S]
    mix_rows.clients = torch::tensor(rows, kI64);             // [k]
    mix_rows.sigma_rows = torch::zeros({k}, torch::kBool);    // [k]
    for (int64_t r = 0; r < k; ++r) mix_rows.sigma_rows[r] = static_cast<bool>(sigma_rows[static_cast<size_t>(r)]);
    mix_rows.self_weights = self_weights;                     // [k, S] or undefined
    mix_rows.self_scalar = self_scalar;                       // [k] or undefined
    const Mix mix = attention_mix(*exchange_, attention_, context_.train_sizes, mix_rows,
                                  stores_xi(report_.round, attention_.every));  // u: [k', S], row i's mix u[u_row[i]]
    for (size_t i = 0; i < rows.size(); ++i) mix_->put(rows[i], mix.row(i));  // [S] each
    add_to_report(report_, mix, mix_rows.clients, seconds_since(start), *exchange_);
  }

  FisherPass fisher_pass(int64_t round) const {
    return {context_.train.batch_size, options_.fisher_batches, s_, context_.seed, round};
  }

  // A client without a Fisher yet (never trained) weighs as a flat F̂ ≡ 1: 1 + δ (neutral_weight_;
  // or 1 per client).
  double scalar_or_neutral(int64_t client) const { return scalar_->has(client) ? scalar_->get(client) : 1.0; }

  AlgoContext context_;
  FedSafOptions options_;
  AttentionOptions attention_;
  int64_t s_ = 0;  // |θˢ|
  int64_t round_ = 0;
  std::unique_ptr<PairwiseExchange> exchange_;
  RowState* theta_ = nullptr;        // hosted client that has trained → θ_i [P] (θˢ_i = its upload)
  FlagState* uploaded_ = nullptr;    // hosted clients that have uploaded
  RowState* weight_ = nullptr;       // hosted client → F̂_i + δ [S] (fisher_mode param)
  torch::Tensor neutral_weight_;     // [S] 1 + δ: the weight of a client without a Fisher
  // compute_mix's row sets, rebuilt every round into kept rows (see row_buffer.hpp): the held
  // uploads [m, S] and their weights [m, S], the rows' own parameters [k, S] and weights [k, S].
  RowBuffer held_params_, held_weights_, query_params_, self_weights_;
  ScalarState* scalar_ = nullptr;    // hosted client → mean(F_i) (fisher_mode scalar)
  RowState* mix_ = nullptr;          // hosted client → its latest u_iˢ [S]
  int64_t planned_round_ = -1;               // the round whose mix server_step computed
  std::vector<int64_t> planned_cohort_;
  torch::Tensor pull_;                       // [S] the current client's u_iˢ (proximal pull) or undefined
  std::optional<FisherAccumulator> last_epoch_acc_;
  int64_t batch_ = 0, first_fisher_batch_ = 0;
  AttentionReport report_;
  FisherSums fisher_sums_;  // the engine's reduction of the latest round's
  std::map<int64_t, FisherSums> client_fisher_;  // trained client → its statistics, until client_end
};

constexpr double kInf = std::numeric_limits<double>::infinity();

const bool registered = register_algorithm(
    {60, "fedsaf", "(FedSAF: attention + Fisher-weighted mix of the shared layers, [attention] and [fedsaf] keys)",
     {enum_key<FisherMode>("fedsaf.fisher_mode",
                           "Fisher weighting of the mix: `param` (per parameter), `scalar` (one weight per client), `none` (the without-FIM ablation).",
                           {"param", "scalar", "none"}, [](Config& c) -> auto& { return c.section<FedSafOptions>().fisher_mode; }),
      enum_key<FisherNorm>("fedsaf.fisher_norm",
                           "Fisher normalisation before weighting: `per_tensor` (divide by the tensor's mean) or `none`.",
                           {"per_tensor", "none"}, [](Config& c) -> auto& { return c.section<FedSafOptions>().fisher_norm; }),
      {"fedsaf.delta", "δ added to the normalised Fisher so that no weight is zero.",
       [](Config& c) -> ConfigValueRef { return &c.section<FedSafOptions>().delta; }, 0, kInf},
      {"fedsaf.fisher_batches", "Batches of the empirical Fisher pass after training; 0 = one full pass over the training split.",
       [](Config& c) -> ConfigValueRef { return &c.section<FedSafOptions>().fisher_batches; }, 0, kInf},
      enum_key<FisherSource>("fedsaf.fisher_source",
                             "`extra_pass` (a pass after training) or `last_epoch` (accumulated during the last training epoch, no extra pass).",
                             {"extra_pass", "last_epoch"}, [](Config& c) -> auto& { return c.section<FedSafOptions>().fisher_source; }),
      {"fedsaf.init_from_cloud", "true: the client starts from θˢ_i ← u_iˢ; false: keeps θˢ_i and adds the pull (prox_lambda/2)·‖θˢ − u_iˢ‖².",
       [](Config& c) -> ConfigValueRef { return &c.section<FedSafOptions>().init_from_cloud; }},
      {"fedsaf.prox_lambda", "λ_p of the proximal pull when init_from_cloud = false.",
       [](Config& c) -> ConfigValueRef { return &c.section<FedSafOptions>().prox_lambda; }, 0, kInf},
      enum_key<DeepMode>("fedsaf.deep_mode",
                         "Private (deep) layers: `train` (trained locally, never uploaded) or `frozen` (requires_grad = false).",
                         {"train", "frozen"}, [](Config& c) -> auto& { return c.section<FedSafOptions>().deep_mode; })},
     [](const Config& c) -> std::unique_ptr<Algorithm> {
       return std::make_unique<FedSaf>(c.section<FedSafOptions>(), c.section<AttentionOptions>());
     }});

}  // namespace

}  // namespace fedsaf
