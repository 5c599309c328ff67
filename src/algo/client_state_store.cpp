#include "algo/client_state_store.hpp"

#include <fmt/format.h>

#include "algo/memory_row_state.hpp"
#include "core/errors.hpp"

namespace fedsaf {

torch::Tensor RowState::gather_or(const std::vector<int64_t>& clients, int64_t prefix, const torch::Tensor& fallback,
                                  RowBuffer* into) const {
  const auto g = static_cast<int64_t>(clients.size());
  torch::Tensor out = into ? into->rows(g, prefix) : torch::empty({g, prefix}, torch::kFloat32);  // [G, prefix]
  const torch::Tensor fill =
      fallback.defined() ? fallback.narrow(0, 0, prefix).to(torch::kCPU, torch::kFloat32) : torch::Tensor();  // [prefix]
  for (int64_t r = 0; r < g; ++r) {
    const int64_t client = clients[static_cast<size_t>(r)];
    out[r].copy_(fill.defined() && !has(client) ? fill : get(client).narrow(0, 0, prefix));  // get: Error without a row
  }
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
