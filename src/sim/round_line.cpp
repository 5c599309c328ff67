#include "sim/round_line.hpp"

#include <fmt/format.h>

namespace fedsaf {

void RoundLine::after_round(Round& round) {
  const RoundRecord& r = round.record;
  const int64_t rounds = run_.config.run.rounds;
  const double eta = seconds_since(run_.run_start) / static_cast<double>(round.index + 1 - run_.first_round) *
                     static_cast<double>(rounds - round.index - 1);
  std::string note = round.diagnostics.note.empty() ? "" : "  " + round.diagnostics.note;
  if (r.diverged_clients > 0) note += fmt::format("  diverged {}/{}", r.diverged_clients, r.cohort_size);
  if (round.eval) {
    const EvalRecord& e = *round.eval;
    run_.console.say(fmt::format(
        "round {}/{}  acc {:.4f} (clients {:.4f} ± {:.4f})  loss {:.4f}  auc {:.4f}  train-loss {:.4f}  "
        "{:.2f} s/round  ETA {}{}",
        round.index + 1, rounds, e.accuracy, e.accuracy_mean, e.accuracy_std, e.loss, e.auc, r.train_loss,
        r.wall_seconds, format_eta(eta), note));
  } else {
    run_.console.say(fmt::format("round {}/{}  train-loss {:.4f}  {:.2f} s/round  ETA {}{}", round.index + 1, rounds,
                                 r.train_loss, r.wall_seconds, format_eta(eta), note));
  }
}

}  // namespace fedsaf
