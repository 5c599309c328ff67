#pragma once
// RowState in a ClientMemory (client_state_store.hpp): each row on the device while its budget
// lasts, then in host memory (pinned when the device is a GPU), then in the disk tier. Values are
// identical in every tier; only where they sit, and so the speed, differs. A row in the disk tier
// is read as a copy and dropped from the resident pages after each read and write, so that the
// rank's memory holds the rows in use, not every row it has touched.
#include <map>
#include <memory>
#include <vector>

#include "algo/client_state_store.hpp"

namespace fedsaf {

class MemoryRowState : public RowState {
 public:
  // memory: null keeps each row as a copy beside the value first put.
  MemoryRowState(std::string name, int64_t numel, torch::ScalarType dtype, std::shared_ptr<ClientMemory> memory)
      : RowState(std::move(name), numel, dtype), memory_(std::move(memory)) {}
  bool has(int64_t client) const override { return rows_.count(client) > 0; }
  torch::Tensor get(int64_t client) const override;
  void put(int64_t client, const torch::Tensor& value) override;
  std::vector<int64_t> clients() const override;
  void prefetch(const std::vector<int64_t>& clients) const override;
  void save(StateWriter& out) const override;
  void load(StateReader& in, const std::vector<int64_t>& hosted) override;

 private:
  std::shared_ptr<ClientMemory> memory_;
  std::map<int64_t, torch::Tensor> rows_;  // client → [numel]
};

}  // namespace fedsaf
