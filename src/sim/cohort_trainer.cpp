#include "sim/cohort_trainer.hpp"

#include <algorithm>
#include <cmath>

#include "mpi/environment.hpp"  // fail_point, slow_point (test hooks)
#include "sim/federation.hpp"
#include "sim/round_observer.hpp"
#include "sim/cohort_reduction.hpp"

namespace fedsaf {

namespace {
bool diverged(const TrainStats& stats, const torch::Tensor& params) {  // params: [P]
  return !std::isfinite(stats.mean_loss()) || !torch::isfinite(params).all().item<bool>();
}
}  // namespace

Federation& CohortTrainer::fed() { return run_.fed; }

void CohortTrainer::train(Round& round) {
  PhaseTimer timer(run_.phase, "training", round.record.timing.train_seconds);
  const Clock::time_point start = Clock::now();
  std::vector<int64_t> alone, together;
  for (int64_t client : round.cohort) {
    if (!fed().hosts(client, run_.rank)) continue;
    const bool stacks = fed().client_group > 1 && can_train_stacked(fed().train_size(client), run_.config.train);
    (stacks ? together : alone).push_back(client);
  }
  // Largest first: the clients of one group then run out of batches at about the same step.
  std::stable_sort(together.begin(), together.end(),
                   [&](int64_t a, int64_t b) { return fed().train_size(a) > fed().train_size(b); });
  const auto mine = static_cast<int64_t>(alone.size() + together.size());
  int64_t trained = 0;
  train_alone(round, alone, trained, mine);
  train_group(round, together, trained, mine);
  slow_point(seconds_since(start));  // test hook (FEDSAF_SLOW_RANK)
}

void CohortTrainer::train_alone(Round& round, const std::vector<int64_t>& clients, int64_t& trained, int64_t mine) {
  FlatModel& model = *fed().model;
  const int64_t trainable = fed().algorithm->local_training().trainable;
  for (int64_t client : clients) {
    run_.progress(round, "training", trained++, mine);
    fail_point("training");  // test hook (FEDSAF_FAIL_AT), as the others in the round's phases
    fed().algorithm->client_begin(client, model.params());
    const TrainStats stats = train_client(model, fed().device_data, fed().train_indices(client), run_.config.train,
                                          run_.config.run.seed, round.index, client, regularizer_of(client),
                                          fed().device, trainable);
    after_training(round, client, stats);
  }
}

// In groups of client_group, trained together as one [G, P] block.
void CohortTrainer::train_group(Round& round, const std::vector<int64_t>& clients, int64_t& trained, int64_t mine) {
  FlatModel& model = *fed().model;
  Algorithm& algorithm = *fed().algorithm;
  const int64_t trainable = algorithm.local_training().trainable;
  const auto group_size = static_cast<size_t>(fed().client_group);
  for (size_t first = 0; first < clients.size(); first += group_size) {
    run_.progress(round, "training", trained, mine);
    fail_point("training");
    const size_t end = std::min(clients.size(), first + group_size);
    torch::Tensor stacked = torch::empty({static_cast<int64_t>(end - first), model.num_params()},
                                         model.params().options());  // [G, P]
    std::vector<StackedClient> group;
    for (size_t i = first; i < end; ++i) {
      torch::Tensor row = stacked[static_cast<int64_t>(i - first)];  // [P]
      algorithm.client_begin(clients[i], row);
      group.push_back({clients[i], &fed().train_indices(clients[i]), regularizer_of(clients[i])});
    }
    const std::vector<TrainStats> stats = train_clients_stacked(model, stacked, fed().device_data, group,
                                                                run_.config.train, run_.config.run.seed, round.index,
                                                                fed().device, trainable);
    // The algorithm's per-client work (a Fisher pass) for the finite ones, as a group.
    std::vector<StackedClient> finite;
    std::vector<int64_t> finite_rows;
    for (size_t i = 0; i < group.size(); ++i) {
      if (diverged(stats[i], stacked[static_cast<int64_t>(i)])) continue;
      finite.push_back(group[i]);
      finite_rows.push_back(static_cast<int64_t>(i));
    }
    const torch::Tensor finite_stacked = stacked.index_select(0, indices_on(finite_rows, fed().device));  // [F, P]
    if (!finite.empty()) algorithm.clients_trained({finite, model, finite_stacked, fed().device_data, round.index});
    for (size_t i = 0; i < group.size(); ++i) {
      model.params().copy_(stacked[static_cast<int64_t>(i)]);  // as if it had trained alone
      after_training(round, group[i].client, stats[i], /*call_clients_trained=*/false);
    }
    trained += static_cast<int64_t>(group.size());
  }
}

RegularizerGrad CohortTrainer::regularizer_of(int64_t client) {
  Algorithm* algorithm = fed().algorithm.get();
  return [algorithm, client](const torch::Tensor& p, torch::Tensor& g) {
    return algorithm->add_regularizer_grad(client, p, g);
  };
}

void CohortTrainer::after_training(Round& round, int64_t client, const TrainStats& stats, bool call_clients_trained) {
  torch::Tensor& params = fed().model->params();  // [P]
  if (diverged(stats, params)) {
    // Diverged: left out of this round everywhere (no upload, no average, no loss); its state
    // stays at its last finite value.
    round.diverged.push_back(client);
    run_.log("round {} client {}: diverged (non-finite model or loss after training); left out", round.index + 1,
             client);
    return;
  }
  Algorithm& algorithm = *fed().algorithm;
  if (call_clients_trained) {
    const std::vector<StackedClient> alone{{client, &fed().train_indices(client), {}}};
    algorithm.clients_trained({alone, *fed().model, torch::Tensor(), fed().device_data, round.index});
  }
  ClientStatistics statistics;
  algorithm.client_end(client, params, statistics);
  const auto n = static_cast<double>(fed().train_size(client));
  statistics_.add(client, n, statistics);
  round.loss_sums[0] += stats.mean_loss() * n;
  round.loss_sums[1] += n;
  run_.log("round {} client {}: {} batches, mean loss {:.5f}", round.index + 1, client, stats.batches,
           stats.mean_loss());
}

}  // namespace fedsaf
