#pragma once
// Round observer: the run file (io/run_file.hpp). Creates it (or continues the one a checkpoint
// restored); per round writes the algorithm's diagnostics (combined over ranks by the loop), the
// round's row, its evaluation and where the client state lives, and flushes (readable while the
// run goes on, durable if it dies); completes it after the last round. Registered only when the
// run has a run file.
#include <memory>
#include <string>
#include <vector>

#include "io/run_file.hpp"
#include "sim/round_observer.hpp"

namespace fedsaf {

class RunFileRecorder : public RoundObserver {
 public:
  // Collective. hostnames, devices: one per rank.
  RunFileRecorder(RunServices& run, const std::vector<std::string>& hostnames, const std::vector<std::string>& devices);
  // Collective: clients were re-placed after `round` (Federation::rank_of is the new placement).
  void record_replacement(int64_t round);
  // Collective: the seconds this segment took before its first round (every rank's value alike).
  void record_setup(double seconds) { run_file_->set_setup_seconds(seconds); }
  // The evaluations of the earlier segments (a resumed run).
  std::vector<EvalRecord> earlier_evals() const { return run_file_->read_evals(); }

  void after_round(Round& round) override;
  void after_run(RunResult& result) override;

 private:
  RunServices& run_;
  std::unique_ptr<RunFile> run_file_;
};

}  // namespace fedsaf
