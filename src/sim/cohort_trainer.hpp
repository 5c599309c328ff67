#pragma once
// The training phase: local training of this rank's cohort clients, one at a time or in stacked
// groups of Federation::client_group (train.client_group) where the model, the algorithm and the
// client allow it; each trained model goes to the algorithm (Fisher pass, upload) and to the
// engine's weighted average, unless it diverged.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "client/stacked_trainer.hpp"
#include "client/trainer.hpp"
#include "sim/round.hpp"

namespace fedsaf {

struct Federation;
struct RunServices;
class WeightedAverage;

class CohortTrainer {
 public:
  CohortTrainer(RunServices& run, WeightedAverage& average) : run_(run), average_(average) {}
  // Trains this rank's clients of round.cohort; fills round.loss_sums and round.diverged.
  void train(Round& round);

 private:
  void train_alone(Round& round, const std::vector<int64_t>& clients, int64_t& trained, int64_t mine);
  void train_group(Round& round, const std::vector<int64_t>& clients, int64_t& trained, int64_t mine);
  // With the client's trained model loaded: left out if it diverged, else handed to the algorithm
  // and to the average.
  void after_training(Round& round, int64_t client, const TrainStats& stats, bool call_client_trained = true);
  RegularizerGrad regularizer_of(int64_t client);
  Federation& fed();

  RunServices& run_;
  WeightedAverage& average_;
};

}  // namespace fedsaf
