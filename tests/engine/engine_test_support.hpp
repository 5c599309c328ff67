#pragma once
// Shared by the engine tests: a quiet run, and the same experiment run on rank 0 alone
// (MPI_COMM_SELF) inside the job, broadcast to every rank as the cross-rank-count reference.
#include <mpi.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/config.hpp"
#include "mpi/mpi_communicator.hpp"
#include "sim/engine.hpp"

namespace fedsaf::test {

// A small synthetic experiment (6 clients, 3 rounds, half the clients per round) for `algorithm`;
// `extra` overrides come last and win.
inline Config small_config(const std::string& algorithm, std::vector<std::string> extra = {}) {
  std::vector<std::string> overrides = {"run.clients=6", "run.rounds=3", "run.join_ratio=0.5",
                                        "run.algorithm=" + algorithm, "data.synthetic.max_samples=120",
                                        "train.batch_size=8", "train.lr=0.05"};
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  return default_config(overrides);
}

inline RunResult run_quiet(const Config& config, Communicator& comm) {
  RunOptions options;
  options.quiet = true;
  return run_experiment(config, options, comm);
}

struct Reference {
  std::vector<double> accuracy, loss;  // [E] pooled, per evaluation
  std::vector<float> params;           // [P] client 0's evaluation model after the last round
  std::vector<int64_t> cohorts;        // every round's cohort, concatenated
};

inline Reference single_rank_reference(const Config& config, Communicator& world) {
  Reference ref;
  if (world.rank() == 0) {
    MpiCommunicator self(MPI_COMM_SELF);
    const RunResult r = run_quiet(config, self);
    for (const auto& e : r.evals) ref.accuracy.push_back(e.accuracy), ref.loss.push_back(e.loss);
    ref.params = r.final_params;
    ref.cohorts = r.cohort_history;
  }
  auto share = [&](auto& v, auto dtype) {
    torch::Tensor n = torch::tensor({static_cast<int64_t>(v.size())});  // [1]
    world.broadcast(n, 0);
    v.resize(static_cast<size_t>(n.item<int64_t>()));
    torch::Tensor t = torch::from_blob(v.data(), {static_cast<int64_t>(v.size())}, dtype);  // [len]
    world.broadcast(t, 0);
  };
  share(ref.accuracy, torch::kFloat64);
  share(ref.loss, torch::kFloat64);
  share(ref.params, torch::kFloat32);
  share(ref.cohorts, torch::kInt64);
  return ref;
}

}  // namespace fedsaf::test
