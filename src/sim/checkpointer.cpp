#include "sim/checkpointer.hpp"

#include <fmt/format.h>

#include "mpi/communicator.hpp"
#include "mpi/environment.hpp"  // any_rank_failed
#include "sim/checkpoint.hpp"
#include "sim/federation.hpp"
#include "sim/stop_signal.hpp"

namespace fedsaf {

void Checkpointer::after_round(Round& round) {
  const bool stop = any_rank_failed(stop_requested(), run_.comm);
  const int64_t every = run_.config.run.checkpoint_every;
  const bool due = stop || round.last || round.stop_diverging || (every > 0 && (round.index + 1) % every == 0);
  if (due && !run_.options.checkpoint_dir.empty() && !run_.options.run_file.empty()) write(round);
  if (!stop || round.last) return;
  round.stop_after = true;
  run_.result.stopped = true;
  run_.console.say(fmt::format("stopped by a signal after round {}{}", round.index + 1,
                               run_.result.last_checkpoint.empty() ? " (no checkpoint: no output folder)"
                                                                   : "; run the same command again to resume"));
}

void Checkpointer::write(const Round& round) {
  double seconds = 0;
  {
    PhaseTimer timer(run_.phase, "checkpoint", seconds);
    run_.progress(round, "checkpoint");
    CheckpointMeta meta;
    meta.rounds_done = round.index + 1;
    meta.elapsed_seconds = run_.earlier_seconds + seconds_since(run_.run_start);
    meta.config_toml = to_toml(run_.config);
    run_.result.last_checkpoint = write_checkpoint(run_.options.checkpoint_dir, run_.options.run_file, meta,
                                                   *run_.fed.algorithm, *run_.fed.context.states,
                                                   run_.config.run.checkpoint_keep, run_.comm);
  }
  run_.console.say(fmt::format("checkpoint {} ({:.2f} s)", run_.result.last_checkpoint, seconds));
}

}  // namespace fedsaf
