#pragma once
// The training phase: local training of this rank's cohort clients, one at a time or in stacked
// groups of Federation::client_group (train.client_group) where the model, the algorithm and the
// client allow it; each trained model goes to the algorithm (Fisher pass, upload) and its
// statistics to the engine's reduction, unless it diverged.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "client/stacked_trainer.hpp"
#include "client/trainer.hpp"
#include "sim/round.hpp"

namespace fedsaf {

struct Federation;
struct RunServices;
class CohortReduction;

class CohortTrainer {
 public:
  CohortTrainer(RunServices& run, CohortReduction& statistics) : run_(run), statistics_(statistics) {}
  // Trains this rank's clients of round.cohort; fills round.loss_sums and round.diverged.
  void train(Round& round);

 private:
  void train_alone(Round& round, const std::vector<int64_t>& clients, int64_t& trained, int64_t mine);
  void train_group(Round& round, const std::vector<int64_t>& clients, int64_t& trained, int64_t mine);
  // With the client's trained model loaded: left out if it diverged, else handed to the algorithm
  // (clients_trained unless its group already had it, then client_end) and its statistics reduced.
  void after_training(Round& round, int64_t client, const TrainStats& stats, bool call_clients_trained = true);
  RegularizerGrad regularizer_of(int64_t client);
  Federation& fed();

  RunServices& run_;
  CohortReduction& statistics_;  // the engine's reduction of the algorithm's per-client statistics
};

}  // namespace fedsaf
