#include "algo/client_state_store.hpp"

#include <fmt/format.h>

#include "algo/memory_row_state.hpp"
#include "core/errors.hpp"

namespace fedsaf {

torch::Tensor RowState::gather(const std::vector<int64_t>& clients, int64_t prefix) const {
  torch::Tensor out = torch::empty({static_cast<int64_t>(clients.size()), prefix}, torch::kFloat32);  // [G, prefix]
  for (size_t r = 0; r < clients.size(); ++r) out[static_cast<int64_t>(r)].copy_(get(clients[r]).narrow(0, 0, prefix));
  return out;
}

torch::Tensor RowState::gather_or(const std::vector<int64_t>& clients, int64_t prefix,
                                  const torch::Tensor& fallback) const {
  const auto g = static_cast<int64_t>(clients.size());
  std::vector<int64_t> with, at;  // the clients that have a row, and their rows in the result
  for (int64_t r = 0; r < g; ++r)
    if (has(clients[static_cast<size_t>(r)])) {
      with.push_back(clients[static_cast<size_t>(r)]);
      at.push_back(r);
    }
  if (static_cast<int64_t>(with.size()) == g) return gather(clients, prefix);  // [G, prefix]
  torch::Tensor out = fallback.narrow(0, 0, prefix).to(torch::kCPU, torch::kFloat32).reshape({1, prefix}).repeat({g, 1});  // [G, prefix]
  if (!with.empty()) out.index_copy_(0, torch::tensor(at, torch::kInt64), gather(with, prefix));
  return out;
}

void RowState::scatter(const std::vector<int64_t>& clients, const torch::Tensor& rows) {
  for (size_t r = 0; r < clients.size(); ++r) put(clients[r], rows[static_cast<int64_t>(r)]);  // [numel]
}

void RowState::check_numel(const torch::Tensor& value) const {
  if (value.numel() != numel_)
    throw Error(fmt::format("client state '{}': a row of {} elements, expected {}", name(), value.numel(), numel_));
}

void FlagState::save(StateWriter& out) const {
  std::map<int64_t, torch::Tensor> rows;
  for (int64_t c : set_) rows[c] = torch::ones({1}, torch::kInt64);  // [1]
  out.per_client(name(), 1, torch::kInt64, rows);
}

void FlagState::load(StateReader& in, const std::vector<int64_t>& hosted) {
  set_.clear();
  for (const auto& entry : in.per_client(name(), hosted)) set_.insert(entry.first);
}

void ScalarState::save(StateWriter& out) const {
  std::map<int64_t, torch::Tensor> rows;
  for (const auto& [c, v] : values_) rows[c] = torch::tensor({v}, torch::kFloat64);  // [1]
  out.per_client(name(), 1, torch::kFloat64, rows);
}

void ScalarState::load(StateReader& in, const std::vector<int64_t>& hosted) {
  for (const auto& [c, row] : in.per_client(name(), hosted)) values_[c] = row[0].item<double>();
}

template <typename State, typename... Args>
State& ClientStateStore::declare(const std::string& name, Args&&... args) {
  for (const auto& s : states_)
    if (s->name() == name) throw Error(fmt::format("client state '{}' declared twice", name));
  auto state = std::make_unique<State>(name, std::forward<Args>(args)...);
  State& ref = *state;
  states_.push_back(std::move(state));
  return ref;
}

RowState& ClientStateStore::rows(const std::string& name, int64_t numel, torch::ScalarType dtype,
                                 RowsHeldBy held_by) {
  RowState& state = declare<MemoryRowState>(name, numel, dtype, memory_);
  row_declarations_.push_back({name, numel, dtype, held_by});
  return state;
}
FlagState& ClientStateStore::flags(const std::string& name) {
  FlagState& state = declare<FlagState>(name);
  ++flag_states_;
  return state;
}
ScalarState& ClientStateStore::scalars(const std::string& name) { return declare<ScalarState>(name); }

void ClientStateStore::save(StateWriter& out) const {
  for (const auto& s : states_) s->save(out);
}

void ClientStateStore::load(StateReader& in, const std::vector<int64_t>& hosted) {
  for (const auto& s : states_) s->load(in, hosted);
}

void ClientStateStore::prefetch(const std::vector<int64_t>& clients) const {
  for (const auto& s : states_)
    if (const auto* rows = dynamic_cast<const RowState*>(s.get())) rows->prefetch(clients);
}

}  // namespace fedsaf
