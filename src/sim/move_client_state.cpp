#include "sim/move_client_state.hpp"

#include <fmt/format.h>

#include <map>
#include <string>

#include "algo/algorithm.hpp"
#include "algo/algorithm_state.hpp"
#include "core/errors.hpp"
#include "mpi/communicator.hpp"

namespace fedsaf {

namespace {

// Every state the algorithm saves, in memory: globals as they are (identical on every rank), the
// rows of clients that stay here as they are, the rows of clients that move all-gathered (one
// allgatherv of ids and one of values per state; save_state's calls are the same on every rank).
class MovingStateWriter : public StateWriter {
 public:
  MovingStateWriter(const std::vector<int>& new_rank_of, Communicator& comm) : new_rank_of_(new_rank_of), comm_(comm) {}

  void global(const std::string& name, const torch::Tensor& value) override {
    globals_[name] = value.detach().to(torch::kCPU).flatten().clone();  // [numel]
  }

  void per_client(const std::string& name, int64_t numel, torch::ScalarType dtype,
                  const std::map<int64_t, torch::Tensor>& rows) override {
    std::map<int64_t, torch::Tensor>& mine = rows_[name];
    std::vector<int64_t> leaving;
    for (const auto& [client, row] : rows) {
      if (row.numel() != numel)  // a bug in one algorithm on one rank: other ranks wait in collectives
        fatal(fmt::format("moving client state '{}': client {} has {} elements, expected {}", name, client, row.numel(),
                          numel));
      if (new_rank_of_.at(static_cast<size_t>(client)) == comm_.rank()) mine[client] = row.detach().flatten();
      else leaving.push_back(client);
    }
    torch::Tensor values = torch::empty({static_cast<int64_t>(leaving.size()), numel}, torch::dtype(dtype));  // [k, numel]
    for (size_t i = 0; i < leaving.size(); ++i)
      values[static_cast<int64_t>(i)].copy_(rows.at(leaving[i]).detach().flatten());
    const torch::Tensor ids = torch::tensor(leaving, torch::kInt64).reshape({-1});  // [k]
    const torch::Tensor all_ids = comm_.allgatherv(ids).data;                       // [K]
    const torch::Tensor all_values = comm_.allgatherv(values).data;                 // [K, numel]
    const int64_t* id = all_ids.data_ptr<int64_t>();
    for (int64_t i = 0; i < all_ids.numel(); ++i) {
      if (new_rank_of_.at(static_cast<size_t>(id[i])) != comm_.rank()) continue;
      mine[id[i]] = all_values[i].clone();  // [numel]
      bytes_received_ += numel * all_values.element_size();
    }
  }

  int64_t bytes_received() const { return bytes_received_; }
  std::map<std::string, torch::Tensor> globals_;
  std::map<std::string, std::map<int64_t, torch::Tensor>> rows_;

 private:
  const std::vector<int>& new_rank_of_;
  Communicator& comm_;
  int64_t bytes_received_ = 0;
};

class MovedStateReader : public StateReader {
 public:
  explicit MovedStateReader(MovingStateWriter&& written)
      : globals_(std::move(written.globals_)), rows_(std::move(written.rows_)) {}

  torch::Tensor global(const std::string& name) override {
    const auto it = globals_.find(name);
    if (it == globals_.end()) throw Error(fmt::format("moving client state: the algorithm saved no state '{}'", name));
    return it->second;
  }
  std::map<int64_t, torch::Tensor> per_client(const std::string& name, const std::vector<int64_t>& hosted) override {
    const auto it = rows_.find(name);
    if (it == rows_.end()) throw Error(fmt::format("moving client state: the algorithm saved no state '{}'", name));
    std::map<int64_t, torch::Tensor> out;
    for (int64_t c : hosted) {
      const auto row = it->second.find(c);
      if (row != it->second.end()) out[c] = row->second;
    }
    return out;
  }

 private:
  std::map<std::string, torch::Tensor> globals_;
  std::map<std::string, std::map<int64_t, torch::Tensor>> rows_;
};

}  // namespace

MovedState move_client_state(const Algorithm& algorithm, const ClientStateStore& states,
                             const std::vector<int>& new_rank_of, Communicator& comm) {
  MovingStateWriter writer(new_rank_of, comm);
  save_algorithm_state(algorithm, states, writer);
  MovedState moved;
  moved.bytes_received = writer.bytes_received();
  moved.state = std::make_unique<MovedStateReader>(std::move(writer));
  return moved;
}

}  // namespace fedsaf
