// The round loop. Set-up builds the Federation (federation.hpp); each round then runs named
// phases, each timed by one PhaseTimer that also names it in a fatal error's message:
//   start (cohort, round_begin) → training (cohort_trainer.hpp) → server step → diagnostics →
//   evaluation (evaluation_phase.hpp)
// and tells the round observers (round_observer.hpp), in this order: the run-file recorder, the
// round line, the divergence guard, the checkpointer, and re-placement (run.rebalance).
#include "sim/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <memory>

#include "core/error_text.hpp"
#include "core/errors.hpp"
#include "mpi/communicator.hpp"
#include "mpi/environment.hpp"
#include "sim/checkpointer.hpp"
#include "sim/cohort_reduction.hpp"
#include "sim/cohort_trainer.hpp"
#include "sim/combine_diagnostics.hpp"
#include "sim/divergence_guard.hpp"
#include "sim/evaluation_phase.hpp"
#include "sim/federation.hpp"
#include "sim/placement.hpp"
#include "sim/rebalance_observer.hpp"
#include "sim/round_line.hpp"
#include "sim/run_file_recorder.hpp"

namespace fedsaf {

namespace {

class Experiment {
 public:
  Experiment(const Config& config, const RunOptions& options, Communicator& comm)
      : config_(config), options_(options), comm_(comm), started_(Clock::now()), console_(comm.rank(), options.quiet),
        log_(options.log_dir, comm.rank()) {}

  RunResult run() {
    set_up();
    // An error on this rank alone (a diverging client, a bug) while the others wait in a
    // collective: end the whole job here, before unwinding reaches the run file, whose close is
    // collective. Errors every rank knows about (AgreedError) unwind on every rank alike.
    int64_t round = run_->first_round;
    try {
      for (; round < config_.run.rounds; ++round)
        if (!run_round(round)) break;
    } catch (const AgreedError&) {
      console_.clear();
      throw;
    } catch (const std::exception& e) {
      console_.clear();
      fatal(fmt::format("round {}, {}: {}", round + 1, phase_, error_text(e)));
    }
    finish();
    return std::move(result_);
  }

 private:
  // ---- set-up: errors here (a bad data file, an impossible partition) happen on every rank
  // alike, and agreed() ends the run cleanly with one message --------------------------------
  void set_up() {
    agreed([&] { fed_ = build_federation(config_, comm_); }, comm_);
    fed_->device_data = fed_->data.on(fed_->device);  // once; every batch is gathered there
    statistics_ = std::make_unique<CohortReduction>(fed_->algorithm->statistics(), fed_->num_clients(), fed_->device);
    if (comm_.rank() == 0 && !fed_->choice.warning.empty())
      fmt::print(stderr, "fedsaf: warning: {}\n", fed_->choice.warning);
    fed_->client_group = resolve_client_group(*fed_, comm_.rank());
    result_.client_group = fed_->client_group;
    run_ = std::make_unique<RunServices>(RunServices{config_, options_, comm_, comm_.rank(), *fed_, result_, console_,
                                                     log_, phase_, started_, 0.0, 0});
    if (options_.resume) resume();
    say_what_runs();
    trainer_ = std::make_unique<CohortTrainer>(*run_, *statistics_);
    // The data on the device, the cohort statistics, the client group, the trainer (and a resume).
    fed_->setup_steps.done(options_.resume ? "engine, checkpoint" : "engine");
    RunFileRecorder* recorder = add_observers();
    fed_->setup_steps.done("run file");
    record_setup(recorder);
  }

  // The set-up's seconds: each step of this rank's into the run log, the slowest rank's whole
  // (the job waits for it before round 1) into the run file.
  void record_setup(RunFileRecorder* recorder) {
    const double own = seconds_since(started_);
    log_("set-up on this rank: {}{:.2f} s in all", fed_->setup_steps.summary(), own);
    torch::Tensor slowest = torch::tensor({own}, torch::kFloat64);  // [1]
    comm_.allreduce_max(slowest);
    result_.setup_seconds = slowest.item<double>();
    if (recorder != nullptr) recorder->record_setup(result_.setup_seconds);
  }

  // Every rank reads the state of the clients it hosts now; rank 0 puts the run file back as it
  // was at the checkpoint (the rows of any later rounds are recomputed identically).
  void resume() {
    run_->first_round = options_.resume->rounds_done;
    run_->earlier_seconds = options_.resume->elapsed_seconds;
    agreed(
        [&] {
          if (comm_.rank() == 0 && !options_.run_file.empty())
            restore_run_file(options_.resume->path, options_.run_file);
          load_checkpoint_state(options_.resume->path, *fed_->algorithm, *fed_->context.states, fed_->hosted(),
                                fed_->num_clients());
        },
        comm_);
  }

  void say_what_runs() {
    const Federation& fed = *fed_;
    console_.say(fmt::format(
        "fedsaf: {} on {} ({} samples, {} classes), {} clients on {} rank(s), model {} ({} parameters), device {}{}{}",
        fed.algorithm->name(), fed.data.name, fed.data.size(), fed.data.num_classes, fed.num_clients(), comm_.size(),
        config_.model.name, fed.model->num_params(), fed.device.str(),
        fed.client_group > 1 ? fmt::format(", clients trained up to {} at a time", fed.client_group) : "",
        static_cast<int64_t>(fed.eval_clients.size()) < fed.num_clients()
            ? fmt::format(", {} clients evaluated (run.eval_clients)", fed.eval_clients.size())
            : ""));
    log_("rank {} hosts {} clients on {}", comm_.rank(), fed.hosted().size(), fed.device.str());
  }

  // The observers in the order they are told (round_observer.hpp); the run file first. Returns
  // the run file's recorder (null without a run file).
  RunFileRecorder* add_observers() {
    const std::vector<std::string> hostnames = allgather_text(host_name(), comm_);        // collective
    const std::vector<std::string> devices = allgather_text(fed_->device.str(), comm_);  // collective
    result_.first_round = run_->first_round;
    if (options_.resume) {
      for (int64_t round = 0; round < run_->first_round; ++round) {
        const std::vector<int64_t> cohort = cohort_of(round);
        result_.cohort_history.insert(result_.cohort_history.end(), cohort.begin(), cohort.end());
      }
      if (comm_.rank() == 0)  // even with --quiet: where a run continues from belongs in every job log
        fmt::print("fedsaf: resuming from {} after round {} of {}\n", options_.resume->path, run_->first_round,
                   config_.run.rounds),
            std::fflush(stdout);
    }
    RunFileRecorder* recorder = nullptr;
    if (!options_.run_file.empty()) {
      auto owned = std::make_unique<RunFileRecorder>(*run_, hostnames, devices);
      if (options_.resume) result_.evals = owned->earlier_evals();
      recorder = owned.get();
      observers_.push_back(std::move(owned));
    }
    observers_.push_back(std::make_unique<RoundLine>(*run_));
    observers_.push_back(std::make_unique<DivergenceGuard>(*run_));
    observers_.push_back(std::make_unique<Checkpointer>(*run_));
    if (config_.run.rebalance > 0) observers_.push_back(std::make_unique<RebalanceObserver>(*run_, recorder));
    return recorder;
  }

  // ---- the engine's schedule: the algorithm is told, never re-derives it -------------------
  std::vector<int64_t> cohort_of(int64_t round) const {
    return sample_cohort(config_.run.seed, round, fed_->num_clients(), config_.run.join_ratio);
  }
  bool evaluates(int64_t round) const {
    return is_evaluation_round(round, config_.run.eval_every, config_.run.rounds);
  }

  // ---- one round: false when a stop signal ends the run after it ---------------------------
  bool run_round(int64_t index) {
    set_fail_point_round(index + 1);
    Round round;
    round.index = index;
    round.cohort = cohort_of(index);
    round.evaluates = evaluates(index);
    round.last = index + 1 == config_.run.rounds;
    const CommStats before = comm_.total_stats();
    start(round);
    trainer_->train(round);
    server_step(round);
    diagnostics(round);
    if (round.evaluates) {
      round.eval = evaluate_hosted_clients(*run_, round);
      result_.evals.push_back(*round.eval);
    }
    const CommStats after = comm_.total_stats();
    RoundRecord& r = round.record;
    r.timing.bytes_sent = after.bytes_sent - before.bytes_sent;
    r.timing.bytes_received = after.bytes_received - before.bytes_received;
    r.timing.bytes_sent_off_node = after.bytes_sent_off_node - before.bytes_sent_off_node;
    r.timing.bytes_received_off_node = after.bytes_received_off_node - before.bytes_received_off_node;
    r.wall_seconds = seconds_since(round.start);
    r.client_updates_per_second = static_cast<double>(r.cohort_size) / std::max(r.wall_seconds, 1e-9);
    for (auto& observer : observers_) observer->after_round(round);
    result_.rounds.push_back(r);
    for (auto& observer : observers_) observer->before_next_round(round);
    return !round.stop_after;
  }

  void start(Round& round) {
    RoundRecord& r = round.record;
    r.round = round.index;
    r.cohort_size = static_cast<int64_t>(round.cohort.size());
    const ProtocolFloats floats = fed_->algorithm->protocol_floats();
    r.protocol_bytes_up = r.cohort_size * floats.up * 4;
    r.protocol_bytes_down = r.cohort_size * floats.down * 4;
    result_.cohort_history.insert(result_.cohort_history.end(), round.cohort.begin(), round.cohort.end());
    PhaseTimer timer(phase_, "round start (attention)", r.timing.comm_seconds);
    fed_->algorithm->round_begin(round.index, round.cohort);
  }

  // The engine's reduction of the cohort's statistics, the algorithm's server step, and the round's
  // training loss and diverged count over every rank.
  void server_step(Round& round) {
    PhaseTimer timer(phase_, "server step", round.record.timing.comm_seconds);
    run_->progress(round, "server step");
    fail_point("server step");  // test hook (FEDSAF_FAIL_AT)
    ServerStep step;
    step.round = round.index;
    step.evaluates = round.evaluates;
    if (round.evaluates) step.eval_clients = fed_->eval_clients;
    step.last = round.last;
    step.next_cohort = cohort_of(round.index + 1);
    step.statistics = statistics_->reduce(comm_);  // collective unless the algorithm declares none
    fed_->algorithm->server_step(step);
    fed_->context.states->prefetch(step.next_cohort);  // disk tier: read in while this round ends
    round.loss_sums[2] = static_cast<double>(round.diverged.size());
    comm_.allreduce_sum(round.loss_sums);
    const torch::Tensor& sums = round.loss_sums;  // [3]
    // NaN when no client trained (all diverged): 0.0 would read as a perfect loss (io/SCHEMA.md).
    round.record.train_loss =
        sums[1].item<double>() > 0 ? (sums[0] / sums[1]).item<double>() : std::numeric_limits<double>::quiet_NaN();
    round.record.diverged_clients = static_cast<int64_t>(sums[2].item<double>());
  }

  // The algorithm's diagnostics of the round, combined over ranks for the run file.
  void diagnostics(Round& round) {
    round.diagnostics = fed_->algorithm->diagnostics(round.index);
    if (options_.run_file.empty() || round.diagnostics.empty()) return;
    PhaseTimer timer(phase_, "diagnostics", round.record.timing.comm_seconds);
    combine_diagnostics(round.diagnostics, fed_->num_clients(), comm_);  // collective
  }

  // ---- the end ------------------------------------------------------------------------------
  void finish() {
    result_.summary = summarize(result_.evals);
    result_.wall_seconds = run_->earlier_seconds + seconds_since(run_->run_start);
    if (result_.stopped) return;  // the run file stays `running`; the checkpoint continues it
    for (auto& observer : observers_) observer->after_run(result_);
    broadcast_final_params();
    console_.say(fmt::format("done: best {:.4f} (round {}), last {:.4f}, mean of last 10 evaluations {:.4f}; {:.1f} s{}",
                             result_.summary.best_accuracy, result_.summary.best_round + 1,
                             result_.summary.last_accuracy, result_.summary.mean_last10, result_.wall_seconds,
                             options_.run_file.empty() ? "" : "; run file " + options_.run_file));
  }

  // The evaluation model of client 0 (on whichever rank hosts it), broadcast for callers/tests.
  void broadcast_final_params() {
    if (fed_->num_clients() == 0) return;
    torch::Tensor& params = fed_->model->params();                                           // [P]
    torch::Tensor final_params = torch::zeros_like(params, torch::kFloat32).to(torch::kCPU);  // [P]
    if (fed_->hosts(0, comm_.rank())) {
      fed_->algorithm->eval_params(0, params);
      final_params.copy_(params);
    }
    comm_.broadcast(final_params, fed_->rank_of[0]);
    result_.final_params.assign(final_params.data_ptr<float>(), final_params.data_ptr<float>() + final_params.numel());
  }

  const Config& config_;
  const RunOptions& options_;
  Communicator& comm_;
  const Clock::time_point started_;  // of this segment (the ETA and the elapsed time count from here)
  Console console_;
  RankLog log_;
  const char* phase_ = "start";  // what this rank is doing, for a fatal error's message
  RunResult result_;
  std::unique_ptr<Federation> fed_;
  std::unique_ptr<RunServices> run_;
  std::unique_ptr<CohortReduction> statistics_;
  std::unique_ptr<CohortTrainer> trainer_;
  std::vector<std::unique_ptr<RoundObserver>> observers_;  // in the order they are told
};

}  // namespace

RunResult run_experiment(const Config& config, const RunOptions& options, Communicator& comm) {
  return Experiment(config, options, comm).run();
}

}  // namespace fedsaf
