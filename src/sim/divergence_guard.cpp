#include "sim/divergence_guard.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join

#include <cmath>

#include "mpi/communicator.hpp"
#include "mpi/environment.hpp"  // AgreedError

namespace fedsaf {

void DivergenceGuard::after_round(Round& round) {
  const RoundRecord& r = round.record;
  const RunConfig& config = run_.config.run;
  const bool many = r.diverged_clients > 0 &&
                    static_cast<double>(r.diverged_clients) >= config.max_diverged_share * r.cohort_size;
  streak_ = many ? streak_ + 1 : 0;
  round.stop_diverging =
      (r.diverged_clients > 0 && r.diverged_clients == r.cohort_size) || streak_ >= config.max_diverged_rounds;
  warn_if_exploding(round);
}

// Finite but exploding: a mean cross-entropy above kExplodingLoss nats gives the true class a
// probability below e^-100, which no learning model does. Said once per run, on rank 0.
void DivergenceGuard::warn_if_exploding(const Round& round) {
  constexpr double kExplodingLoss = 100.0;
  const double loss = round.record.train_loss;
  if (warned_exploding_ || !std::isfinite(loss) || loss <= kExplodingLoss) return;
  warned_exploding_ = true;
  run_.console.clear();
  if (run_.rank == 0)
    fmt::print(stderr,
               "fedsaf: warning: round {}: the mean training loss is {:.3g} (above {:g} per sample): the models "
               "are diverging while still finite; train.lr = {:g} is likely too large for this model and data. "
               "The run goes on; clients whose model or loss becomes non-finite are left out "
               "(run.max_diverged_share).\n",
               round.index + 1, loss, kExplodingLoss, run_.config.train.lr);
}

void DivergenceGuard::before_next_round(Round& round) {
  if (round.stop_diverging) throw AgreedError(message(round));
}

// The stop message, naming the round, the clients and the likely cause.
std::string DivergenceGuard::message(const Round& round) {
  const torch::Tensor mine = torch::tensor(round.diverged, torch::kInt64).reshape({-1});  // [k]
  const torch::Tensor all = std::get<0>(run_.comm.allgatherv(mine).data.sort());          // [K] ascending
  std::vector<int64_t> clients(all.data_ptr<int64_t>(), all.data_ptr<int64_t>() + std::min<int64_t>(all.numel(), 10));
  const RoundRecord& r = round.record;
  const std::string which = fmt::format("{}{}", fmt::join(clients, ", "), all.numel() > 10 ? ", ..." : "");
  const std::string when = streak_ > 1 ? fmt::format(" ({} rounds in a row at or above run.max_diverged_share = {})",
                                                     streak_, run_.config.run.max_diverged_share)
                                       : "";
  const std::string& checkpoint = run_.result.last_checkpoint;
  return fmt::format(
      "round {}: {} of {} cohort clients diverged (non-finite model or loss after local training: clients {}){}. "
      "Likely cause: a learning rate too large for this model and data (train.lr = {}) or extreme input values. {}",
      round.index + 1, r.diverged_clients, r.cohort_size, which, when, run_.config.train.lr,
      checkpoint.empty() ? std::string("No checkpoint was written (no output folder).")
                         : fmt::format("The state after this round, diverged clients at their last finite model, is in {}.",
                                       checkpoint));
}

}  // namespace fedsaf
