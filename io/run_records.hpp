#pragma once
// What a run records: per round (timing, bytes, training loss) and per evaluation (accuracy,
// loss, AUC, per-client accuracy), and the summary over evaluations. Torch-free.
#include <cstdint>
#include <string>
#include <vector>

namespace fedsaf {

// One rank's view of one round.
struct RoundTiming {
  double train_seconds = 0;  // local training of this rank's cohort clients
  double comm_seconds = 0;   // collectives (server step, metric reductions)
  double eval_seconds = 0;   // evaluation of this rank's clients
  double io_seconds = 0;     // run-file writes
  int64_t bytes_sent = 0;    // Communicator payload bytes this round (all kinds)
  int64_t bytes_received = 0;
  int64_t bytes_sent_off_node = 0;      // the part exchanged with ranks on other nodes
  int64_t bytes_received_off_node = 0;  // (mpi/communicator.hpp: OFF-NODE SHARE)
};

struct RoundRecord {
  int64_t round = 0;
  int64_t cohort_size = 0;
  double train_loss = 0;     // sample-weighted mean training loss over the cohort
  double wall_seconds = 0;   // the round on rank 0, end to end
  double client_updates_per_second = 0;
  int64_t protocol_bytes_up = 0;    // what the FL protocol itself sends up in this round (all clients)
  int64_t protocol_bytes_down = 0;  // and down (float32 payload)
  int64_t diverged_clients = 0;     // cohort clients left out: non-finite model or loss after training
  RoundTiming timing;        // this rank's
};

struct EvalRecord {
  int64_t round = 0;
  double accuracy = 0;       // pooled: Σ correct / Σ tested
  double accuracy_mean = 0;  // mean over clients with a test split
  double accuracy_std = 0;   // population std over those clients
  double loss = 0;           // pooled mean test cross-entropy
  double auc = 0;            // micro one-vs-rest AUC
  std::vector<double> client_accuracy;  // [N], NaN for clients without test samples
};

struct RunSummary {
  double best_accuracy = 0;
  int64_t best_round = -1;
  double last_accuracy = 0;
  double mean_last10 = 0;  // mean pooled accuracy of the last min(10, E) evaluations
  int64_t evaluations = 0;
};

// Fills accuracy, mean, std and loss from per-client counts ([N] each; tested 0 = no test split).
EvalRecord make_eval_record(int64_t round, const std::vector<double>& correct, const std::vector<double>& tested,
                            const std::vector<double>& loss_sum, double auc);
RunSummary summarize(const std::vector<EvalRecord>& evals);

}  // namespace fedsaf
