#pragma once
// The round loop of one federated experiment across the ranks of a communicator; it can start
// from a checkpoint and writes checkpoints (src/sim/checkpoint.hpp).
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "sim/checkpoint.hpp"
#include "io/run_records.hpp"

namespace fedsaf {

class Communicator;

struct RunOptions {
  std::string run_file;  // HDF5 run file to write; empty = none
  bool quiet = false;    // no progress lines
  std::string log_dir;   // per-rank log files (rank-R.log); empty = none
  // Checkpoints (src/sim/checkpoint.hpp) go here, every run.checkpoint_every rounds, after the
  // last round and when a stop signal arrives; empty = none. Needs run_file.
  std::string checkpoint_dir;
  // Continue from this checkpoint (validated, see find_checkpoint) instead of starting at round 0;
  // its run-file part replaces run_file.
  std::optional<CheckpointMeta> resume;
};

struct RunResult {
  std::vector<EvalRecord> evals;
  std::vector<RoundRecord> rounds;  // this rank's timing
  RunSummary summary;
  std::vector<float> final_params;  // client 0's evaluation model after the last round
  std::vector<int64_t> cohort_history;  // concatenated cohorts (tests compare them across rank counts)
  double wall_seconds = 0;              // of the whole run (every resumed segment)
  double setup_seconds = 0;             // this segment's start to its first round, the slowest rank's
  int64_t first_round = 0;              // where this segment started (> 0 after a resume)
  bool stopped = false;                 // a stop signal ended it early, after a checkpoint
  std::string last_checkpoint;          // path of the newest checkpoint written, if any
  int64_t client_group = 1;             // clients this rank trained together (train.client_group, resolved)
  int64_t replacements = 0;             // times clients were re-placed between rounds (run.rebalance)
};

RunResult run_experiment(const Config& config, const RunOptions& options, Communicator& comm);

}  // namespace fedsaf
