#pragma once
// One client-state store per rank: every per-client state an algorithm keeps (personal models,
// private layers, Fisher weights, held uploads, mixes, "has uploaded" flags) lives here, for the
// clients this rank hosts, as named states the algorithm declares in init():
//   RowState     a row of `numel` elements of one dtype per client (get/put per client,
//                gather/scatter per group); where rows live is the implementation's business:
//                MemoryRowState (memory_row_state.hpp) keeps them on the device up to a byte
//                budget, beyond it in (pinned) host memory; a disk tier is one more implementation
//   FlagState    a set of clients
//   ScalarState  one float64 per client
// The checkpoint writer, the resume and the re-placement mover save, load and move every declared
// state through the store (algorithm_state.hpp), so an algorithm's own save_state/load_state hold
// only its globals.
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "algo/client_memory.hpp"
#include "algo/row_buffer.hpp"
#include "algo/state.hpp"

namespace fedsaf {

// One named per-client state.
class ClientState {
 public:
  explicit ClientState(std::string name) : name_(std::move(name)) {}
  virtual ~ClientState() = default;
  const std::string& name() const { return name_; }
  // Collective (StateWriter/StateReader): every hosted client's entry / those of `hosted` saved.
  virtual void save(StateWriter& out) const = 0;
  virtual void load(StateReader& in, const std::vector<int64_t>& hosted) = 0;

 private:
  std::string name_;
};

// A row of numel() elements of dtype() per client that has one.
class RowState : public ClientState {
 public:
  RowState(std::string name, int64_t numel, torch::ScalarType dtype)
      : ClientState(std::move(name)), numel_(numel), dtype_(dtype) {}
  int64_t numel() const { return numel_; }
  torch::ScalarType dtype() const { return dtype_; }

  virtual bool has(int64_t client) const = 0;
  // [numel] the client's row, to read or copy from (not to keep: write through put); Error when
  // the client has none.
  virtual torch::Tensor get(int64_t client) const = 0;
  // The client's row ← value ([numel] elements, any device; converted to dtype()).
  virtual void put(int64_t client, const torch::Tensor& value) = 0;
  virtual std::vector<int64_t> clients() const = 0;  // those with a row, ascending

  // A hint that the listed clients' rows are needed soon (those in a disk tier are read in the
  // background); clients without a row are skipped. Default: nothing to do.
  virtual void prefetch(const std::vector<int64_t>& /*clients*/) const {}
  // [G, prefix] float32 on the CPU: the first `prefix` elements of each listed client's row, in
  // order (e.g. the shared part of held uploads). With `into`, written into its kept rows (no
  // fresh pages each round) and valid until into's next use; otherwise a fresh tensor.
  torch::Tensor gather(const std::vector<int64_t>& clients, int64_t prefix, RowBuffer* into = nullptr) const {
    return gather_or(clients, prefix, torch::Tensor(), into);
  }
  // rows [G, numel]: row g into clients[g].
  virtual void scatter(const std::vector<int64_t>& clients, const torch::Tensor& rows);
  // The client's row, or `fallback` ([numel]) when it has none: a state whose untouched rows all
  // equal one value (the initial model of clients that never trained) keeps that value once, not
  // once per client (100,000 clients × the model is most of a rank's memory otherwise).
  torch::Tensor get_or(int64_t client, const torch::Tensor& fallback) const { return has(client) ? get(client) : fallback; }
  // [G, prefix] float32 on the CPU as gather, rows of clients without one from the first `prefix`
  // elements of `fallback` (undefined: every client must have a row).
  torch::Tensor gather_or(const std::vector<int64_t>& clients, int64_t prefix, const torch::Tensor& fallback,
                          RowBuffer* into = nullptr) const;

 protected:
  void check_numel(const torch::Tensor& value) const;  // Error naming the state when numel differs

 private:
  int64_t numel_;
  torch::ScalarType dtype_;
};

// A set of clients; saved as one int64 1 per member.
class FlagState : public ClientState {
 public:
  using ClientState::ClientState;
  bool has(int64_t client) const { return set_.count(client) > 0; }
  void insert(int64_t client) { set_.insert(client); }
  const std::set<int64_t>& clients() const { return set_; }
  void save(StateWriter& out) const override;
  void load(StateReader& in, const std::vector<int64_t>& hosted) override;  // replaces the set

 private:
  std::set<int64_t> set_;
};

// One float64 per client that has one (kept on the host: read one at a time).
class ScalarState : public ClientState {
 public:
  using ClientState::ClientState;
  bool has(int64_t client) const { return values_.count(client) > 0; }
  double get(int64_t client) const { return values_.at(client); }
  void put(int64_t client, double value) { values_[client] = value; }
  void save(StateWriter& out) const override;
  void load(StateReader& in, const std::vector<int64_t>& hosted) override;

 private:
  std::map<int64_t, double> values_;
};

// Which clients come to hold a row of a declared RowState (what `fedsaf plan` counts).
enum class RowsHeldBy {
  trained,                      // clients that have trained (personal models, Fisher weights, ...)
  mixed_cohorts,                // the clients of every cohort after the first, mixed for before it trains
  mixed_cohorts_and_evaluated,  // those, and the evaluated clients at every evaluation (fedsaf's mix)
};
struct RowDeclaration {
  std::string name;
  int64_t numel = 0;
  torch::ScalarType dtype = torch::kFloat32;
  RowsHeldBy held_by = RowsHeldBy::trained;
};

class ClientStateStore {
 public:
  // memory: where MemoryRowState keep rows (device up to a budget, then host); null: unlimited, each
  // row beside the value first put (tests).
  explicit ClientStateStore(std::shared_ptr<ClientMemory> memory = nullptr) : memory_(std::move(memory)) {}

  // Declarations (in init()); a name declared twice is an Error. The references stay valid for
  // the store's lifetime.
  RowState& rows(const std::string& name, int64_t numel, torch::ScalarType dtype,
                 RowsHeldBy held_by = RowsHeldBy::trained);
  FlagState& flags(const std::string& name);
  ScalarState& scalars(const std::string& name);
  // The declared row states, in declaration order, and the number of declared flag sets.
  const std::vector<RowDeclaration>& row_declarations() const { return row_declarations_; }
  int64_t flag_states() const { return flag_states_; }

  // Collective: every declared state, in declaration order.
  void save(StateWriter& out) const;
  void load(StateReader& in, const std::vector<int64_t>& hosted);

  // The listed clients' rows of every state are needed soon (RowState::prefetch).
  void prefetch(const std::vector<int64_t>& clients) const;
  // Bytes of rows kept on the device, in host memory and on disk, and the device budget (-1: none).
  int64_t device_bytes() const { return memory_ ? memory_->device_bytes() : 0; }
  int64_t host_bytes() const { return memory_ ? memory_->host_bytes() : 0; }
  int64_t disk_bytes() const { return memory_ ? memory_->disk_bytes() : 0; }
  int64_t budget_bytes() const { return memory_ ? memory_->budget_bytes() : -1; }
  // The budgets and disk folder this store's memory was made with (a new store for re-placement).
  ClientMemoryBudget memory_budget() const { return memory_ ? memory_->budget() : ClientMemoryBudget{}; }

 private:
  template <typename State, typename... Args>
  State& declare(const std::string& name, Args&&... args);
  std::shared_ptr<ClientMemory> memory_;
  std::vector<std::unique_ptr<ClientState>> states_;  // in declaration order
  std::vector<RowDeclaration> row_declarations_;
  int64_t flag_states_ = 0;
};

}  // namespace fedsaf
