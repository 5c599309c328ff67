#pragma once
// What a run builds before round 1, the same on every rank except placement-dependent parts: the
// data, the partition, the placement of clients on ranks, the device, the model and the
// algorithm. The round loop and its observers share one Federation; each piece has one owner
// here (the placement: rank_of and algorithm_context.hosted, changed only by replace()).
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "algo/algorithm.hpp"
#include "core/config.hpp"
#include "core/setup_steps.hpp"
#include "data/dataset.hpp"
#include "data/partition.hpp"
#include "model/model.hpp"
#include "sim/device.hpp"

namespace fedsaf {

class Communicator;

struct Federation {
  explicit Federation(const Config& run_config) : config(run_config) {}

  const Config& config;
  Dataset data;         // as loaded, on the CPU
  Dataset device_data;  // the same on `device` (uint8 images stay uint8)
  Partition partition;
  std::vector<double> costs;  // every client's estimated per-round cost (placement.hpp)
  std::vector<int> rank_of;   // client → the rank hosting it
  DeviceChoice choice;
  torch::Device device{torch::kCPU};
  std::unique_ptr<FlatModel> model;
  AlgoContext context;  // what the algorithm knows; context.hosted: this rank's clients, ascending
  std::unique_ptr<Algorithm> algorithm;
  int64_t client_group = 1;  // clients trained together (train.client_group, resolved)
  std::vector<int64_t> eval_clients;  // the clients every evaluation scores, ascending (run.eval_clients)
  std::vector<bool> evaluated;        // [N] client → whether it is in eval_clients
  SetupSteps setup_steps;  // this rank's set-up steps and their seconds, for the run log

  int64_t num_clients() const { return context.num_clients; }
  const std::vector<int64_t>& hosted() const { return context.hosted; }
  bool hosts(int64_t client, int rank) const { return rank_of[static_cast<size_t>(client)] == rank; }
  int64_t train_size(int64_t client) const { return context.train_sizes[static_cast<size_t>(client)]; }
  int64_t test_size(int64_t client) const {
    return static_cast<int64_t>(partition.clients[static_cast<size_t>(client)].test.size());
  }
  // The test samples each evaluation scores for the client: its test split if it is evaluated, else 0.
  int64_t eval_size(int64_t client) const { return evaluated[static_cast<size_t>(client)] ? test_size(client) : 0; }
  const std::vector<int64_t>& train_indices(int64_t client) const {
    return partition.clients[static_cast<size_t>(client)].train;
  }

  // Clients now live on new_rank_of: the algorithm is rebuilt for this rank's new clients and
  // reads their state back (moved between ranks by move_client_state), as on a resume.
  void replace(const std::vector<int>& new_rank_of, int rank, StateReader& state);
};

// Every rank loads the data once and derives the same partition, placement, model and θ⁰ (not
// collective; errors happen on every rank alike). client_group stays 1: resolve_client_group.
std::unique_ptr<Federation> build_federation(const Config& config, Communicator& comm);

// The algorithm's view of a run with this config and initial model, for the `hosted` clients
// (ascending); make_exchange and states are left to the caller (the default store keeps rows
// beside their values).
AlgoContext model_context(const Config& config, FlatModel& model, const std::vector<int64_t>& train_sizes,
                          std::vector<int64_t> hosted);

// train.client_group resolved for this model, algorithm and device (1: one at a time); warns on
// rank 0 when the asked group cannot be used.
int64_t resolve_client_group(const Federation& fed, int rank);
// The same rule without the warning: `asked` (0 = automatic) where the model and the algorithm
// can train clients together, else 1.
int64_t usable_client_group(int64_t asked, const FlatModel& model, const Algorithm& algorithm,
                            const torch::Device& device);

}  // namespace fedsaf
