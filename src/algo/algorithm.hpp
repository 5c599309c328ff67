#pragma once
// The Algorithm interface: an FL algorithm is only its client hooks and its server step; the
// round loop (src/sim/engine.cpp) owns cohorts, local training, evaluation and metrics.
//
// Call order per round t, identical on every rank:
//   round_begin(t, cohort)                       all ranks (may communicate)
//   for each cohort client c hosted by this rank:
//     client_begin(c, params)                    → the model c starts training from
//     [training; per batch: add_regularizer_grad(c, params, grads); only the first
//      local_training().trainable parameters are updated]
//     clients_trained({c}, model with c's trained parameters loaded)  → e.g. a Fisher pass
//     client_end(c, params, statistics)          → c's contribution (kept locally) and its values
//                                                  of the declared statistics()
//     [a client whose model or loss is not finite after training gets neither clients_trained
//      nor client_end: it is left out of the round and keeps its last state]
//   With client-batched training (train.client_group, local_training().clients_together):
//   client_begin for every client of a group, the group trains together, clients_trained once
//   for its finite clients with their stacked models, then client_end per client as above.
//   [the engine reduces every statistic over the cohort's clients on every rank]
//   server_step({t, evaluates, next cohort, reduced statistics})  all ranks (may communicate)
//   diagnostics(t)                               all ranks (local; the engine combines them)
//   [eval_params(c, params) for every client hosted by this rank, when evaluating]
//   [the client states and save_state(writer) when a checkpoint is due]  all ranks
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "algo/client_state_store.hpp"
#include "algo/client_statistics.hpp"
#include "algo/state.hpp"
#include "client/stacked_trainer.hpp"  // StackedClient
#include "core/config.hpp"
#include "core/diagnostics.hpp"

namespace fedsaf {

class PairwiseExchange;
enum class PairwiseMode;
enum class PairwisePrecision;
using ExchangeFactory =
    std::function<std::unique_ptr<PairwiseExchange>(PairwiseMode mode, PairwisePrecision precision)>;
class FlatModel;
struct Dataset;

// What an algorithm knows of the run; the same on every rank except `hosted`. Its own options
// (its config section) reach it through its factory (registry.hpp), not through the context.
struct AlgoContext {
  TrainConfig train;  // local training (fedsaf: the batches of its Fisher pass and last epoch)
  uint64_t seed = 0;  // run.seed, the root of every random stream
  // The attention algorithms' one way to other ranks (the engine does every other reduction):
  // a PairwiseExchange over the run's ranks for N = num_clients (src/algo/pairwise.hpp).
  ExchangeFactory make_exchange;
  int64_t num_clients = 0;
  std::vector<int64_t> train_sizes;  // n_i for every client i
  std::vector<int64_t> hosted;       // clients this rank owns, ascending
  torch::Tensor initial_params;      // [P] θ⁰, the same on every rank
  int64_t shared_numel = 0;          // |θˢ| for the configured n_head (P when everything is shared)
  // The parameter tensors of θˢ in flat order (e.g. "conv1.weight"), and their numel (summing to
  // shared_numel): the boundaries of per-tensor Fisher normalisation and statistics.
  std::vector<std::string> shared_tensor_names;
  std::vector<int64_t> shared_tensor_sizes;
  // Where every per-client state lives (client_state_store.hpp): declared in init(), saved, loaded
  // and moved between ranks by the engine. The default (tests) keeps rows beside their values.
  std::shared_ptr<ClientStateStore> states = std::make_shared<ClientStateStore>();

  bool hosts(int64_t client) const { return std::binary_search(hosted.begin(), hosted.end(), client); }
};

// What the engine tells the server step of round t. The engine decides cohorts and evaluations;
// an algorithm that prepares for them (fedsaf mixes for the next cohort) reads them here.
struct ServerStep {
  int64_t round = 0;                 // t, whose cohort just trained
  bool evaluates = false;            // eval_clients are evaluated right after this step
  // When evaluating: the clients scored (run.eval_clients; every client unless it samples),
  // ascending, every rank's.
  std::vector<int64_t> eval_clients;
  bool last = false;                 // t is the run's last round (run.rounds − 1): nothing trains next
  // The cohort of round t + 1, also after the last round: the cohort a run continued with more
  // rounds (run.rounds raised on resume) trains next.
  std::vector<int64_t> next_cohort;
  // The algorithm's statistics() reduced over the cohort's trained clients on every rank, by name
  // (client_statistics.hpp: e.g. FedAvg's "model", the sample-weighted mean [P] float32).
  CohortStatistics statistics;
};

// How the engine may train an algorithm's clients.
struct LocalTraining {
  // Whether the engine may call client_begin for several clients before training them together
  // (train.client_group): true when client_begin and add_regularizer_grad keep no state of "the
  // current client" between calls.
  bool clients_together = false;
  // Parameters [0, trainable) are updated by local SGD, the rest stay as client_begin set them
  // (e.g. fedsaf's frozen private layers); -1: all of them.
  int64_t trainable = -1;
};

// The clients of one training call that ended finite, right after training (see clients_trained).
struct TrainedClients {
  const std::vector<StackedClient>& clients;  // their ids and training indices, in training order
  FlatModel& model;                           // the worker model
  // [G, P] the trained models stacked, rows in `clients` order, not to be changed, when the clients
  // trained together; undefined for one client trained alone, whose model is loaded in `model`.
  torch::Tensor stacked;
  const Dataset& data;
  int64_t round = 0;
};

// Floats the FL protocol itself would send per participating client and round.
struct ProtocolFloats {
  int64_t up = 0;
  int64_t down = 0;
};

class Algorithm {
 public:
  virtual ~Algorithm() = default;
  virtual std::string name() const = 0;
  // Personalised algorithms are scored on each client's own model, global ones on the global model.
  virtual bool personalised() const = 0;
  virtual void init(const AlgoContext& context) = 0;
  virtual void round_begin(int64_t /*round*/, const std::vector<int64_t>& /*cohort*/) {}
  // params: [P] the worker model's flat parameters; filled with the model client starts from.
  virtual void client_begin(int64_t client, torch::Tensor& params) = 0;
  // Adds the gradient of the algorithm's extra loss term to grads ([P]) and returns the term's
  // value; the default has no extra term.
  virtual double add_regularizer_grad(int64_t /*client*/, const torch::Tensor& /*params*/,
                                      torch::Tensor& /*grads*/) {
    return 0.0;
  }
  // Default: one client at a time, every parameter trained.
  virtual LocalTraining local_training() const { return {}; }
  // Right after local training, for the clients that ended finite (e.g. the Fisher pass).
  virtual void clients_trained(const TrainedClients& /*trained*/) {}
  // The statistics the engine reduces over every round's trained clients (client_statistics.hpp);
  // fixed for a run. Default: none (no communication).
  virtual std::vector<Statistic> statistics() const { return {}; }
  // params: [P] after local training. Puts the client's value of every declared statistic into
  // `statistics`.
  virtual void client_end(int64_t /*client*/, const torch::Tensor& /*params*/, ClientStatistics& /*statistics*/) {}
  virtual void server_step(const ServerStep& step) = 0;
  // params: [P] ← the model client is evaluated with.
  virtual void eval_params(int64_t client, torch::Tensor& params) = 0;
  virtual ProtocolFloats protocol_floats() const = 0;
  // Round t's diagnostics with this rank's values (fedamp, fedsaf: attention rows and σ; fedsaf:
  // Fisher statistics), valid after server_step(t); the same names on every rank. Local: the
  // engine combines them over ranks (core/diagnostics.hpp).
  virtual Diagnostics diagnostics(int64_t /*round*/) const { return {}; }
  // Checkpoints and re-placement (collective, between rounds: after server_step(t), before
  // round_begin(t + 1)): the algorithm's globals, everything beyond its declared client states
  // that it needs to continue exactly; load_state is called after init(). Default: none.
  virtual void save_state(StateWriter& /*out*/) const {}
  virtual void load_state(StateReader& /*in*/) {}
};

}  // namespace fedsaf
