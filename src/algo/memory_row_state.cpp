#include "algo/memory_row_state.hpp"

#include <fmt/format.h>

#include "core/errors.hpp"

namespace fedsaf {

namespace {
// A copy of value where `memory` places it (device up to its budget, else host), or beside it.
torch::Tensor kept(ClientMemory* memory, const torch::Tensor& value) {
  return memory ? memory->keep(value) : value.clone();
}
}  // namespace

torch::Tensor MemoryRowState::get(int64_t client) const {
  const auto it = rows_.find(client);
  if (it == rows_.end()) throw Error(fmt::format("client state '{}': client {} has no row", name(), client));
  if (!memory_ || !memory_->on_disk(it->second)) return it->second;  // [numel]
  torch::Tensor copy = it->second.clone();  // [numel]
  memory_->release(it->second);
  return copy;
}

void MemoryRowState::put(int64_t client, const torch::Tensor& value) {
  check_numel(value);
  const auto it = rows_.find(client);
  if (it == rows_.end()) {
    rows_[client] = kept(memory_.get(), value.reshape({numel()}).to(dtype()));
    return;
  }
  it->second.copy_(value.reshape({numel()}));  // stays where it lives
  if (memory_) memory_->release(it->second);
}

void MemoryRowState::prefetch(const std::vector<int64_t>& clients) const {
  if (!memory_) return;
  for (int64_t c : clients) {
    const auto it = rows_.find(c);
    if (it != rows_.end()) memory_->prefetch(it->second);
  }
}

std::vector<int64_t> MemoryRowState::clients() const {
  std::vector<int64_t> out;
  for (const auto& entry : rows_) out.push_back(entry.first);
  return out;
}

void MemoryRowState::save(StateWriter& out) const { out.per_client(name(), numel(), dtype(), rows_); }

// As a resume needs: into the row already there, else a new row placed by `memory`.
void MemoryRowState::load(StateReader& in, const std::vector<int64_t>& hosted) {
  for (const auto& [c, row] : in.per_client(name(), hosted)) {
    const auto it = rows_.find(c);
    if (it == rows_.end()) {
      rows_[c] = kept(memory_.get(), row.to(dtype()));
      continue;
    }
    restore_into(it->second, row, name());
    if (memory_) memory_->release(it->second);
  }
}

}  // namespace fedsaf
