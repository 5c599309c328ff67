#include "sim/rebalance_observer.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join

#include <algorithm>

#include "mpi/communicator.hpp"
#include "sim/federation.hpp"
#include "sim/move_client_state.hpp"
#include "sim/placement.hpp"
#include "sim/run_file_recorder.hpp"

namespace fedsaf {

namespace {
std::vector<double> relative_to_fastest(std::vector<double> speeds) {
  const double fastest = *std::max_element(speeds.begin(), speeds.end());
  for (double& s : speeds) s = fastest > 0 ? s / fastest : 0;
  return speeds;
}
}  // namespace

RebalanceObserver::RebalanceObserver(RunServices& run, RunFileRecorder* recorder)
    : run_(run), recorder_(recorder), rebalancer_(run.config.run.rebalance, run.comm.size()) {}

double RebalanceObserver::work_done(const Round& round) const {
  const Federation& fed = run_.fed;
  const auto eval_every = static_cast<double>(run_.config.run.eval_every);
  double work = 0;
  for (int64_t client : round.cohort)  // training: the client's cost less its amortised evaluation
    if (fed.hosts(client, run_.rank)) work += fed.costs[static_cast<size_t>(client)] - eval_cost(fed.eval_size(client)) / eval_every;
  if (round.evaluates)
    for (int64_t client : fed.hosted()) work += eval_cost(fed.eval_size(client));
  return work;
}

void RebalanceObserver::before_next_round(Round& round) {
  if (round.stop_after || round.last) return;
  const RoundTiming& t = round.record.timing;
  const torch::Tensor mine = torch::tensor({t.train_seconds + t.eval_seconds, work_done(round)}, torch::kFloat64);  // [2]
  const torch::Tensor all = run_.comm.allgather(mine);  // [R, 2]
  std::vector<double> busy, done;
  for (int r = 0; r < run_.comm.size(); ++r) {
    busy.push_back(all[r][0].item<double>());
    done.push_back(all[r][1].item<double>());
  }
  const std::optional<std::vector<int>> placed = rebalancer_.observe(busy, done, run_.fed.costs, run_.fed.rank_of);
  if (placed) move_clients(round, *placed);
}

void RebalanceObserver::move_clients(const Round& round, const std::vector<int>& placement) {
  run_.phase = "re-placement";
  const Clock::time_point start = Clock::now();
  int64_t moved = 0;
  for (size_t c = 0; c < placement.size(); ++c) moved += placement[c] != run_.fed.rank_of[c] ? 1 : 0;
  const MovedState state = move_client_state(*run_.fed.algorithm, *run_.fed.context.states, placement, run_.comm);
  run_.fed.replace(placement, run_.rank, *state.state);
  if (recorder_) recorder_->record_replacement(round.index);
  ++run_.result.replacements;
  run_.console.say(fmt::format(
      "round {}: the ranks waited on average {:.0f} % of the slowest rank's training + evaluation time ({} rounds "
      "in a row above run.rebalance = {:g}); {} clients re-placed by measured speed (ranks at {:.2f} of the fastest; "
      "moved in {:.2f} s)",
      round.index + 1, 100 * rebalancer_.last_idle_share(), Rebalancer::kRounds, run_.config.run.rebalance, moved,
      fmt::join(relative_to_fastest(rebalancer_.last_speeds()), ", "), seconds_since(start)));
  run_.log("round {}: re-placed: now hosts {} clients; {} bytes of client state received", round.index + 1,
           run_.fed.hosted().size(), state.bytes_received);
}

}  // namespace fedsaf
