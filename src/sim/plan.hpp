#pragma once
// `fedsaf plan`'s model of a run before it is submitted (issue 23 §7): per rank, client state by
// tier, data and workspace memory; bytes sent per round; the checkpoint's size; seconds per round
// from rates measured on this machine. plan_run is arithmetic over PlanInputs (what the config
// fixes: sizes, placement, cohorts, the algorithm's declared state; plan_inputs.hpp) and PlanRates
// (plan_calibration.hpp), so that tests check it against hand-computed cases and measured runs.
// The terms and their assumptions are listed in docs/plan.md.
#include <cstdint>
#include <string>
#include <vector>

namespace fedsaf {

// One per-client row state the algorithm declares (client_state_store.hpp), and who holds a row.
struct PlanRowState {
  std::string name;
  int64_t bytes = 0;             // of one client's row
  bool held_by_trained = true;  // every client that has trained
  // Every client the server mixed a model for after a round (fedsaf's mix: each next cohort, and
  // the evaluated clients at evaluations when PlanInputs::mixes_evaluated).
  bool held_by_mixed = false;
};

struct PlanInputs {
  std::string algorithm;
  int ranks = 1;
  int64_t params = 0;  // P
  int64_t local_epochs = 1;
  std::vector<int64_t> train_sizes;   // [N]
  std::vector<int64_t> test_sizes;    // [N] test samples an evaluation scores (0: not evaluated)
  std::vector<int> rank_of;           // [N] the rank hosting each client (placement.hpp)
  std::vector<std::vector<int64_t>> cohorts;  // [rounds + 1] each round's cohort and the next one's
  std::vector<bool> evaluates;        // [rounds]
  std::vector<PlanRowState> rows;     // the declared row states
  bool mixes_evaluated = false;       // the evaluated clients get a mix at every evaluation
  int64_t flag_states = 0;            // declared flag sets (one member per trained client)
  int64_t global_state_bytes = 0;     // the algorithm's save_state (e.g. FedAvg's global model)
  // What the engine's own collectives send per rank: every round (the cohort's statistics and
  // losses, float64) and in addition at an evaluation (per-client scores and the AUC histogram).
  int64_t round_reduction_bytes = 0;
  int64_t eval_reduction_bytes = 0;
  int64_t protocol_up = 0, protocol_down = 0;  // floats per participating client (Algorithm::protocol_floats)
  // The attention stage (fedamp, fedsaf: a PairwiseExchange): its held uploads are protocol_down
  // floats wide, and Fisher-weighted when protocol_up is twice that.
  bool pairwise = false;
  int64_t pairwise_precision_bytes = 4;  // attention.precision
  int64_t pairwise_block_bytes = 0;      // float32 rows per block of the exchange's ring, in bytes
  int64_t data_bytes = 0;         // the data set every rank holds (x, y, groups)
  bool data_generated = false;    // synthetic: each rank also holds its generated part while joining
  int64_t run_file_bytes = 0;     // the run file without the per-round tables (partition, config)

  int64_t rounds() const { return static_cast<int64_t>(evaluates.size()); }
  // Whether each held upload comes with its Fisher weights (fedsaf: protocol_up = 2 × protocol_down).
  bool fisher_weighted_uploads() const { return protocol_up >= 2 * protocol_down; }
  int64_t num_clients() const { return static_cast<int64_t>(train_sizes.size()); }
};

// Measured on the planning machine (plan_calibration.hpp), one torch thread as in a run.
struct PlanRates {
  double train_seconds_per_sample = 0;  // local training with the algorithm's hooks, per sample and epoch
  double eval_seconds_per_sample = 0;   // one test sample's forward
  double gemm_flops_per_second = 0;     // one core's float32 GEMM (for reference)
  // The attention stage on one rank (attention_mix on synthetic uploads), in its GEMM flops
  // (PlanInputs' formula) per second: its GEMMs and the elementwise work around them.
  double attention_flops_per_second = 0;
  double copy_bytes_per_second = 0;     // one core's memory copy into fresh memory (page faults included)
  // Gathering held uploads (and rows) from the client-state store and registering them with the
  // exchange, in their bytes per second.
  double held_bytes_per_second = 0;
  int64_t baseline_bytes = 0;           // resident memory of the process with its libraries and model, no data
};

struct PlanMachine {
  int ranks_per_node = 1;
  int64_t node_memory_bytes = 0;    // available for the job on one node
  bool gpu = false;                 // ranks train on GPUs (client state's first tier is GPU memory)
  int64_t device_budget_bytes = -1;  // client state per rank on the device (-1: no limit)
  int64_t host_budget_bytes = -1;    // in host memory beyond it (-1: no limit)
  bool disk_tier = false;           // run.state_dir: the rest goes to disk
};

struct RankPlan {
  int64_t clients = 0, train_samples = 0;
  int64_t state_bytes = 0;  // client state at the end of the run
  int64_t state_device_bytes = 0, state_host_bytes = 0, state_disk_bytes = 0;
  int64_t data_bytes = 0;       // at the peak (with the generated part)
  int64_t attention_bytes = 0;  // the attention stage's peak buffers
  // Host memory: baseline + data + the larger of the generated part (start-up) and the state in
  // host memory + attention (the rounds).
  int64_t peak_bytes = 0;
  int64_t bytes_sent_per_round = 0;  // the largest round's (engine reductions + the attention exchange)
};

struct RunPlan {
  std::vector<RankPlan> ranks;
  int64_t checkpoint_bytes = 0;
  int64_t protocol_bytes_up = 0, protocol_bytes_down = 0;  // the largest round's (cohort × floats × 4)
  // The slowest rank's, as rounds end together: the mean round that only trains, the evaluation
  // round (the slowest), the whole run.
  double train_round_seconds = 0, eval_round_seconds = 0, run_seconds = 0;
  double attention_seconds = 0;  // of the slowest round, the slowest rank's
  std::vector<std::string> warnings;  // e.g. a rank's peak beyond its share of the node's memory
};

RunPlan plan_run(const PlanInputs& in, const PlanMachine& machine, const PlanRates& rates);

// The attention stage's GEMM flops for `rows` distinct query rows against `held` uploads of
// `width` floats: the distances (2 per multiply-add), then the mix (twice that with Fisher weights:
// numerator and denominator), as /attention/gemm_flops counts them.
inline double attention_flops(int64_t rows, int64_t held, int64_t width, bool weighted) {
  return 2.0 * static_cast<double>(rows) * static_cast<double>(held) * static_cast<double>(width) *
         (weighted ? 3.0 : 2.0);
}

}  // namespace fedsaf
