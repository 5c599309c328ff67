#include "algo/state.hpp"

#include <fmt/format.h>

#include "core/errors.hpp"

namespace fedsaf {

void restore_into(torch::Tensor& target, const torch::Tensor& saved, const std::string& name) {
  if (saved.numel() != target.numel())
    throw IoError(fmt::format("checkpoint state '{}': {} elements saved, {} expected (another model or split?)", name,
                              saved.numel(), target.numel()));
  target.copy_(saved.reshape(target.sizes()));
}

void load_rows(StateReader& in, const std::string& name, const std::vector<int64_t>& hosted,
               std::map<int64_t, torch::Tensor>& target, const KeepRow& keep) {
  for (const auto& [c, row] : in.per_client(name, hosted)) {
    const auto it = target.find(c);
    if (it != target.end()) restore_into(it->second, row, name);
    else target[c] = keep(row);
  }
}

std::map<int64_t, torch::Tensor> flags_as_rows(const std::set<int64_t>& clients) {
  std::map<int64_t, torch::Tensor> rows;
  for (int64_t c : clients) rows[c] = torch::ones({1}, torch::kInt64);  // [1]
  return rows;
}

std::set<int64_t> rows_as_flags(const std::map<int64_t, torch::Tensor>& rows) {
  std::set<int64_t> clients;
  for (const auto& [c, row] : rows) clients.insert(c);
  return clients;
}

}  // namespace fedsaf
