#pragma once
// The round loop of one federated experiment across the ranks of a communicator.
#include <string>
#include <vector>

#include "core/config.hpp"
#include "sim/metrics.hpp"

namespace fedsaf {

class Communicator;

struct RunOptions {
  std::string run_file;  // HDF5 run file to write; empty = none
  bool quiet = false;    // no progress lines
  std::string log_dir;   // per-rank log files (rank-R.log); empty = none
};

struct RunResult {
  std::vector<EvalRecord> evals;
  std::vector<RoundRecord> rounds;  // this rank's timing
  RunSummary summary;
  std::vector<float> final_params;  // client 0's evaluation model after the last round
  std::vector<int64_t> cohort_history;  // concatenated cohorts (tests compare them across rank counts)
  double wall_seconds = 0;
};

RunResult run_experiment(const Config& config, const RunOptions& options, Communicator& comm);

}  // namespace fedsaf
