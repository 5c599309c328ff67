// The round loop. Each round runs named phases (algorithm.hpp has the hooks' order):
//   start (cohort, round_begin) → train the cohort → server step → diagnostics → evaluate →
//   record (run file, progress line) → checkpoint → re-placement (only with run.rebalance)
// each timed by one scoped PhaseTimer, which also names the phase in a fatal error's message.
#include "sim/engine.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "algo/pairwise.hpp"
#include "algo/registry.hpp"
#include "client/evaluate.hpp"
#include "client/fisher.hpp"  // shared_tensor_names, shared_tensor_sizes
#include "client/stacked_trainer.hpp"
#include "client/trainer.hpp"
#include "core/error_text.hpp"
#include "core/errors.hpp"
#include "data/dataset.hpp"
#include "data/partition.hpp"
#include "data/partition_table.hpp"
#include "io/run_file.hpp"
#include "model/model.hpp"
#include "model/tensor_values.hpp"
#include "mpi/communicator.hpp"
#include "mpi/environment.hpp"
#include "sim/combine_diagnostics.hpp"
#include "sim/device.hpp"
#include "sim/gpu_info.hpp"
#include "sim/move_client_state.hpp"
#include "sim/placement.hpp"
#include "sim/progress_line.hpp"
#include "sim/rebalance.hpp"
#include "sim/run_log.hpp"
#include "sim/stop_signal.hpp"
#include "sim/weighted_average.hpp"

namespace fedsaf {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Adds the seconds of its scope to `seconds`, and names the phase this rank is in (for the message
// of an error on this rank alone).
class PhaseTimer {
 public:
  PhaseTimer(const char*& current, const char* phase, double& seconds)
      : current_(current), seconds_(seconds), start_(Clock::now()) {
    current_ = phase;
  }
  PhaseTimer(const PhaseTimer&) = delete;
  PhaseTimer& operator=(const PhaseTimer&) = delete;
  ~PhaseTimer() { seconds_ += seconds_since(start_); }

 private:
  const char*& current_;
  double& seconds_;
  Clock::time_point start_;
};

// The Communicator's payload counters summed over every collective kind: (sent, received).
std::pair<int64_t, int64_t> total_bytes(const Communicator& comm) {
  const CommStats s = comm.total_stats();
  return {s.bytes_sent, s.bytes_received};
}

// What one round carries from phase to phase.
struct Round {
  int64_t index = 0;
  std::vector<int64_t> cohort;
  bool evaluates = false;
  bool last = false;
  RoundRecord record;
  // [Σ n·loss, Σ n, diverged] over this rank's cohort clients (loss of the finite ones only; the
  // diverged count is written from `diverged` right before the all-reduce)
  torch::Tensor loss_sums = torch::zeros({3}, torch::kFloat64);
  std::vector<int64_t> diverged;  // this rank's cohort clients whose training diverged
  bool stop_diverging = false;    // too many clients diverged: checkpoint, then stop with an error
  Diagnostics diagnostics;
  Clock::time_point start = Clock::now();
};

class Experiment {
 public:
  Experiment(const Config& config, const RunOptions& options, Communicator& comm)
      : config_(config), options_(options), comm_(comm), rank_(comm.rank()), log_(options.log_dir, comm.rank()) {}

  RunResult run() {
    set_up();
    open_run_file();
    // An error on this rank alone (a diverging client, a bug) while the others wait in a
    // collective: end the whole job here, before unwinding reaches the run file, whose close is
    // collective. Errors every rank knows about (AgreedError) unwind on every rank alike.
    int64_t round = first_round_;
    try {
      for (; round < config_.run.rounds; ++round)
        if (!run_round(round)) break;
    } catch (const AgreedError&) {
      progress_.clear();
      throw;
    } catch (const std::exception& e) {
      progress_.clear();
      fatal(fmt::format("round {}, {}: {}", round + 1, phase_, error_text(e)));
    }
    finish();
    return std::move(result_);
  }

 private:
  // ---- set-up -----------------------------------------------------------------------------
  // Every rank loads the data once and derives the same partition, placement and θ⁰. Errors here
  // (a bad data file, an impossible partition) happen on every rank alike: agreed() ends the run
  // cleanly with one message.
  void set_up() {
    agreed([&] { build(); }, comm_.raw());
    num_clients_ = context_.num_clients;
    device_data_ = data_.on(device_);  // once; uint8 images stay uint8, every batch is gathered there
    average_ = std::make_unique<WeightedAverage>(algorithm_->averaged_numel(), device_);
    if (rank_ == 0 && !choice_.warning.empty()) fmt::print(stderr, "fedsaf: warning: {}\n", choice_.warning);
    client_group_ = resolve_client_group();
    result_.client_group = client_group_;
    first_round_ = options_.resume ? options_.resume->rounds_done : 0;
    earlier_seconds_ = options_.resume ? options_.resume->elapsed_seconds : 0.0;
    if (options_.resume) {
      // Every rank reads the state of the clients it hosts now; rank 0 puts the run file back as
      // it was at the checkpoint (the rows of any later rounds are recomputed identically).
      agreed(
          [&] {
            if (rank_ == 0 && !options_.run_file.empty()) restore_run_file(options_.resume->path, options_.run_file);
            load_checkpoint_state(options_.resume->path, *algorithm_, num_clients_);
          },
          comm_.raw());
    }
    say(fmt::format("fedsaf: {} on {} ({} samples, {} classes), {} clients on {} rank(s), model {} ({} parameters), "
                    "device {}{}",
                    algorithm_->name(), data_.name, data_.size(), data_.num_classes, num_clients_, comm_.size(),
                    config_.model.name, model_->num_params(), device_.str(),
                    client_group_ > 1 ? fmt::format(", clients trained up to {} at a time", client_group_) : ""));
    log_("rank {} hosts {} clients on {}", rank_, hosted_.size(), device_.str());
  }

  void build() {
    const uint64_t seed = config_.run.seed;
    data_ = load_dataset(config_);
    partition_ = make_partition(config_.partition, seed, config_.run.clients, data_.labels(), data_.groups(),
                                data_.num_classes);
    std::vector<int64_t> train_sizes, test_sizes;
    for (const auto& c : partition_.clients) {
      train_sizes.push_back(static_cast<int64_t>(c.train.size()));
      test_sizes.push_back(static_cast<int64_t>(c.test.size()));
    }
    costs_ = estimate_client_costs(train_sizes, test_sizes,
                                   {config_.train.local_epochs, config_.train.batch_size, config_.run.eval_every});
    rank_of_ = place_by_cost(costs_, comm_.size());
    hosted_ = hosted_clients(rank_of_, rank_);
    choice_ = select_device(config_.run.device, node_local_rank(comm_.local_rank()), comm_.local_size(),
                            static_cast<int>(config_.run.max_ranks_per_gpu));
    device_ = choice_.device;
    // On a GPU too: the attention stage and the staging of collectives run on the CPU, and
    // LibTorch's default (every core, in every rank) oversubscribes a node with many ranks.
    torch::set_num_threads(static_cast<int>(config_.run.threads_per_rank));
    comm_.set_cuda_aware(cuda_aware_wanted(config_.run.cuda_aware_mpi));
    model_ = make_model(config_.model, data_.sample_shape(), data_.num_classes, seed);
    model_->to(device_);
    context_.config = &config_;
    context_.num_clients = static_cast<int64_t>(partition_.clients.size());
    context_.make_exchange = exchanges_on(comm_, context_.num_clients);
    context_.train_sizes = train_sizes;
    context_.hosted = hosted_;
    context_.initial_params = model_->params().clone();  // [P]
    context_.shared_numel = model_->shared_numel(config_.model.n_head);
    context_.shared_tensor_names = shared_tensor_names(*model_, config_.model.n_head);
    context_.shared_tensor_sizes = shared_tensor_sizes(*model_, config_.model.n_head);
    int64_t gpu_bytes = 0;
    for (const GpuInfo& g : visible_gpus())
      if (device_.is_cuda() && g.index == device_.index()) gpu_bytes = g.total_bytes;
    context_.memory = std::make_shared<ClientMemory>(
        device_, client_state_budget(config_.run.device_state_mb, device_, gpu_bytes, choice_.ranks_sharing));
    algorithm_ = make_algorithm(config_);
    algorithm_->init(context_);
  }

  void open_run_file() {
    const std::vector<std::string> hostnames = allgather_text(host_name(), comm_);  // collective
    const std::vector<std::string> devices = allgather_text(device_.str(), comm_);   // collective
    result_.first_round = first_round_;
    if (options_.resume) {
      for (int64_t round = 0; round < first_round_; ++round) {
        const std::vector<int64_t> cohort = cohort_of(round);
        result_.cohort_history.insert(result_.cohort_history.end(), cohort.begin(), cohort.end());
      }
      if (rank_ == 0)  // even with --quiet: where a run continues from belongs in every job log
        fmt::print("fedsaf: resuming from {} after round {} of {}\n", options_.resume->path, first_round_,
                   config_.run.rounds),
            std::fflush(stdout);
    }
    if (options_.run_file.empty()) return;
    RunFileInfo info;
    info.config_toml = to_toml(config_);
    info.algorithm = algorithm_->name();
    info.device = device_.str();
    info.dataset = data_.name;
    info.model = config_.model.name;
    info.seed = config_.run.seed;
    info.world_size = comm_.size();
    info.num_clients = num_clients_;
    info.num_classes = data_.num_classes;
    info.num_params = model_->num_params();
    info.shared_params = context_.shared_numel;
    info.rounds = config_.run.rounds;
    info.rank_hostnames = hostnames;
    info.rank_devices = devices;
    if (options_.resume) {
      run_file_ = std::make_unique<RunFile>(options_.run_file, comm_.raw(), info, RunFile::Open::kContinue);
      result_.evals = run_file_->read_evals();
    } else {
      run_file_ = std::make_unique<RunFile>(options_.run_file, comm_.raw(), info);
      h5::Group group = run_file_->file().create_group("partition");
      write_partition_h5(partition_, group);
      group.write("placement", std::vector<int64_t>(rank_of_.begin(), rank_of_.end()));
    }
  }

  // ---- the engine's schedule: the algorithm is told, never re-derives it -------------------
  std::vector<int64_t> cohort_of(int64_t round) const {
    return sample_cohort(config_.run.seed, round, num_clients_, config_.run.join_ratio);
  }
  bool evaluates(int64_t round) const {
    return (round + 1) % config_.run.eval_every == 0 || round + 1 == config_.run.rounds;
  }

  // ---- one round: false when a stop signal ends the run after it ---------------------------
  bool run_round(int64_t index) {
    set_fail_point_round(index + 1);
    Round round;
    round.index = index;
    round.cohort = cohort_of(index);
    round.evaluates = evaluates(index);
    round.last = index + 1 == config_.run.rounds;
    const auto [sent0, received0] = total_bytes(comm_);
    start(round);
    train_cohort(round);
    server_step(round);
    diagnostics(round);
    if (round.evaluates) evaluate(round);
    const auto [sent1, received1] = total_bytes(comm_);
    round.record.timing.bytes_sent = sent1 - sent0;
    round.record.timing.bytes_received = received1 - received0;
    record(round);
    judge_divergence(round);
    const bool go_on = checkpoint(round);
    if (round.stop_diverging) throw AgreedError(divergence_message(round));
    if (go_on && !round.last && config_.run.rebalance > 0) rebalance(round);
    return go_on;
  }

  void start(Round& round) {
    RoundRecord& r = round.record;
    r.round = round.index;
    r.cohort_size = static_cast<int64_t>(round.cohort.size());
    r.protocol_bytes_up = r.cohort_size * algorithm_->protocol_floats_up() * 4;
    r.protocol_bytes_down = r.cohort_size * algorithm_->protocol_floats_down() * 4;
    result_.cohort_history.insert(result_.cohort_history.end(), round.cohort.begin(), round.cohort.end());
    PhaseTimer timer(phase_, "round start (attention)", r.timing.comm_seconds);
    algorithm_->round_begin(round.index, round.cohort);
  }

  // Local training of this rank's cohort clients: in stacked groups of client_group_ where the
  // model, the algorithm and the client allow it (train.client_group), the others one at a time.
  void train_cohort(Round& round) {
    PhaseTimer timer(phase_, "training", round.record.timing.train_seconds);
    const Clock::time_point start = Clock::now();
    train_clients(round);
    slow_point(seconds_since(start));  // test hook (FEDSAF_SLOW_RANK)
  }

  void train_clients(Round& round) {
    std::vector<int64_t> alone, together;
    for (int64_t client : round.cohort) {
      if (rank_of_[static_cast<size_t>(client)] != rank_) continue;
      const bool stacks = client_group_ > 1 && can_train_stacked(train_size(client), config_.train);
      (stacks ? together : alone).push_back(client);
    }
    // Largest first: the clients of one group then run out of batches at about the same step.
    std::stable_sort(together.begin(), together.end(),
                     [&](int64_t a, int64_t b) { return train_size(a) > train_size(b); });
    const auto mine = static_cast<int64_t>(alone.size() + together.size());
    const int64_t trainable = algorithm_->trainable_numel(model_->num_params());
    int64_t trained = 0;
    for (int64_t client : alone) {
      progress(round, "training", trained++, mine);
      fail_point("training");
      algorithm_->client_begin(client, model_->params());
      const TrainStats stats = train_client(*model_, device_data_, train_indices(client), config_.train,
                                            config_.run.seed, round.index, client, regularizer_of(client), device_,
                                            trainable);
      after_training(round, client, stats);
    }
    const auto group_size = static_cast<size_t>(client_group_);
    for (size_t first = 0; first < together.size(); first += group_size) {
      progress(round, "training", trained, mine);
      fail_point("training");
      const size_t end = std::min(together.size(), first + group_size);
      torch::Tensor stacked = torch::empty({static_cast<int64_t>(end - first), model_->num_params()},
                                           model_->params().options());  // [G, P]
      std::vector<StackedClient> group;
      for (size_t i = first; i < end; ++i) {
        torch::Tensor row = stacked[static_cast<int64_t>(i - first)];  // [P]
        algorithm_->client_begin(together[i], row);
        group.push_back({together[i], &train_indices(together[i]), regularizer_of(together[i])});
      }
      const std::vector<TrainStats> stats = train_clients_stacked(
          *model_, stacked, device_data_, group, config_.train, config_.run.seed, round.index, device_, trainable);
      // The algorithm's per-client work (a Fisher pass) for the finite ones, as a group if it can.
      std::vector<StackedClient> finite;
      std::vector<int64_t> finite_rows;
      for (size_t i = 0; i < group.size(); ++i) {
        if (diverged(stats[i], stacked[static_cast<int64_t>(i)])) continue;
        finite.push_back(group[i]);
        finite_rows.push_back(static_cast<int64_t>(i));
      }
      const torch::Tensor finite_stacked = stacked.index_select(0, indices_on(finite_rows, device_));  // [F, P]
      const bool group_done =
          !finite.empty() && algorithm_->group_trained(finite, *model_, finite_stacked, device_data_, round.index);
      for (size_t i = 0; i < group.size(); ++i) {
        model_->params().copy_(stacked[static_cast<int64_t>(i)]);  // as if it had trained alone
        after_training(round, group[i].client, stats[i], /*call_client_trained=*/!group_done);
      }
      trained += static_cast<int64_t>(group.size());
    }
  }

  int64_t train_size(int64_t client) const { return context_.train_sizes[static_cast<size_t>(client)]; }
  const std::vector<int64_t>& train_indices(int64_t client) const {
    return partition_.clients[static_cast<size_t>(client)].train;
  }
  RegularizerGrad regularizer_of(int64_t client) {
    return [this, client](const torch::Tensor& p, torch::Tensor& g) { return algorithm_->add_regularizer_grad(client, p, g); };
  }

  static bool diverged(const TrainStats& stats, const torch::Tensor& params) {  // params: [P]
    return !std::isfinite(stats.mean_loss()) || !torch::isfinite(params).all().item<bool>();
  }

  // With the client's trained model in model_: left out if it diverged, else handed to the
  // algorithm (Fisher pass, upload) and to the average.
  void after_training(Round& round, int64_t client, const TrainStats& stats, bool call_client_trained = true) {
    torch::Tensor& params = model_->params();  // [P]
    if (diverged(stats, params)) {
      // Diverged: left out of this round everywhere (no upload, no average, no loss); its state
      // stays at its last finite value.
      round.diverged.push_back(client);
      log_("round {} client {}: diverged (non-finite model or loss after training); left out", round.index + 1, client);
      return;
    }
    if (call_client_trained) algorithm_->client_trained(client, *model_, device_data_, train_indices(client), round.index);
    algorithm_->client_end(client, params);
    const auto n = static_cast<double>(train_size(client));
    average_->add(params, n);
    round.loss_sums[0] += stats.mean_loss() * n;
    round.loss_sums[1] += n;
    log_("round {} client {}: {} batches, mean loss {:.5f}", round.index + 1, client, stats.batches, stats.mean_loss());
  }

  // train.client_group resolved for this model, algorithm and device (1: one at a time).
  int64_t resolve_client_group() const {
    const int64_t asked = config_.train.client_group;
    if (asked == 1) return 1;
    if (!model_->stacks_clients() || !algorithm_->trains_clients_together()) {
      if (asked > 1 && rank_ == 0)
        fmt::print(stderr,
                   "fedsaf: warning: train.client_group = {}, but {} cannot train clients together ({}): one at a "
                   "time\n",
                   asked,
                   model_->stacks_clients() ? "this " + algorithm_->name() + " configuration" : "model " + config_.model.name,
                   model_->stacks_clients() ? "fedsaf needs init_from_cloud = true and fisher_source = extra_pass"
                                            : "logreg, mlp and cnn can");
      return 1;
    }
    return asked == 0 ? automatic_client_group(model_->num_params(), device_) : asked;
  }

  void server_step(Round& round) {
    PhaseTimer timer(phase_, "server step", round.record.timing.comm_seconds);
    progress(round, "server step");
    fail_point("server step");  // test hook (FEDSAF_FAIL_AT), as the others in this file
    ServerStep step;
    step.round = round.index;
    step.evaluates = round.evaluates;
    step.last = round.last;
    step.next_cohort = cohort_of(round.index + 1);
    step.average = average_->reduce(comm_);  // collective unless the algorithm averages nothing
    algorithm_->server_step(step);
    round.loss_sums[2] = static_cast<double>(round.diverged.size());
    comm_.allreduce_sum(round.loss_sums);
    const torch::Tensor& sums = round.loss_sums;
    round.record.train_loss = sums[1].item<double>() > 0 ? (sums[0] / sums[1]).item<double>() : 0.0;
    round.record.diverged_clients = static_cast<int64_t>(sums[2].item<double>());
  }

  // The algorithm's diagnostics, combined over ranks and written when there is a run file.
  void diagnostics(Round& round) {
    round.diagnostics = algorithm_->diagnostics(round.index);
    if (!run_file_ || round.diagnostics.empty()) return;
    {
      PhaseTimer timer(phase_, "diagnostics", round.record.timing.comm_seconds);
      combine_diagnostics(round.diagnostics, num_clients_, comm_);  // collective
    }
    PhaseTimer timer(phase_, "run file", round.record.timing.io_seconds);
    run_file_->append_diagnostics(round.index, round.diagnostics);
  }

  // Every hosted client on its own test split.
  void evaluate(Round& round) {
    torch::Tensor per_client = torch::zeros({3, num_clients_}, torch::kFloat64);  // [correct; tested; loss_sum]
    AucHistogram auc;
    {
      PhaseTimer timer(phase_, "evaluation", round.record.timing.eval_seconds);
      torch::Tensor& params = model_->params();  // [P]
      const int64_t batch = eval_batch_for(config_.run.eval_batch_size, device_);
      int64_t evaluated = 0;
      for (int64_t client : hosted_) {
        progress(round, "evaluation", evaluated++, static_cast<int64_t>(hosted_.size()));
        fail_point("evaluation");
        algorithm_->eval_params(client, params);
        const ClientEval e = evaluate_client(*model_, device_data_, partition_.clients[static_cast<size_t>(client)].test,
                                             device_, auc, batch);
        per_client[0][client] = static_cast<double>(e.correct);
        per_client[1][client] = static_cast<double>(e.tested);
        per_client[2][client] = e.loss_sum;
      }
    }
    {
      PhaseTimer timer(phase_, "evaluation", round.record.timing.comm_seconds);
      comm_.allreduce_sum(per_client);  // each client's entries are non-zero on exactly one rank
      comm_.allreduce_sum(auc.counts());
    }
    result_.evals.push_back(make_eval_record(round.index, to_doubles(per_client[0]), to_doubles(per_client[1]),
                                             to_doubles(per_client[2]), auc.auc()));
  }

  // The round's row in the run file and rank 0's progress line.
  void record(Round& round) {
    RoundRecord& r = round.record;
    r.wall_seconds = seconds_since(round.start);
    r.client_updates_per_second = static_cast<double>(r.cohort_size) / std::max(r.wall_seconds, 1e-9);
    if (run_file_) {
      {
        PhaseTimer timer(phase_, "run file", r.timing.io_seconds);
        fail_point("run file");
        run_file_->append_round(r);
        const ClientMemory& memory = *context_.memory;
        run_file_->set_client_state(memory.device_bytes(), memory.host_bytes(), memory.budget_bytes());
        if (round.evaluates) run_file_->append_eval(result_.evals.back(), hosted_);
        run_file_->file().flush();  // readable while the run goes on, and durable if it dies
      }
      run_file_->set_io_seconds(round.index, r.timing.io_seconds);
    }
    result_.rounds.push_back(r);

    const double eta = seconds_since(run_start_) / static_cast<double>(round.index + 1 - first_round_) *
                       static_cast<double>(config_.run.rounds - round.index - 1);
    std::string note = round.diagnostics.note.empty() ? "" : "  " + round.diagnostics.note;
    if (r.diverged_clients > 0) note += fmt::format("  diverged {}/{}", r.diverged_clients, r.cohort_size);
    if (round.evaluates) {
      const EvalRecord& e = result_.evals.back();
      say(fmt::format("round {}/{}  acc {:.4f} (clients {:.4f} ± {:.4f})  loss {:.4f}  auc {:.4f}  train-loss {:.4f}  "
                      "{:.2f} s/round  ETA {}{}",
                      round.index + 1, config_.run.rounds, e.accuracy, e.accuracy_mean, e.accuracy_std, e.loss, e.auc,
                      r.train_loss, r.wall_seconds, format_eta(eta), note));
    } else {
      say(fmt::format("round {}/{}  train-loss {:.4f}  {:.2f} s/round  ETA {}{}", round.index + 1, config_.run.rounds,
                      r.train_loss, r.wall_seconds, format_eta(eta), note));
    }
  }

  // A checkpoint when due, after the last round, or when any rank got a stop signal (one
  // collective flag, so every rank stops after the same round). False: stop after this round.
  bool checkpoint(Round& round) {
    const bool stop = any_rank_failed(stop_requested(), comm_.raw());
    const int64_t every = config_.run.checkpoint_every;
    const bool due = stop || round.last || round.stop_diverging || (every > 0 && (round.index + 1) % every == 0);
    if (!options_.checkpoint_dir.empty() && run_file_ && due) {
      double seconds = 0;
      {
        PhaseTimer timer(phase_, "checkpoint", seconds);
        progress(round, "checkpoint");
        CheckpointMeta meta;
        meta.rounds_done = round.index + 1;
        meta.elapsed_seconds = earlier_seconds_ + seconds_since(run_start_);
        meta.config_toml = to_toml(config_);
        result_.last_checkpoint = write_checkpoint(options_.checkpoint_dir, options_.run_file, meta, *algorithm_,
                                                   config_.run.checkpoint_keep, comm_);
      }
      say(fmt::format("checkpoint {} ({:.2f} s)", result_.last_checkpoint, seconds));
    }
    if (!stop || round.last) return true;
    result_.stopped = true;
    say(fmt::format("stopped by a signal after round {}{}", round.index + 1,
                    result_.last_checkpoint.empty() ? " (no checkpoint: no output folder)"
                                                    : "; run the same command again to resume"));
    return false;
  }

  // Every rank alike (the counts are all-reduced): whether this round's divergence stops the run.
  void judge_divergence(Round& round) {
    const RoundRecord& r = round.record;
    const bool many = r.diverged_clients > 0 &&
                      static_cast<double>(r.diverged_clients) >= config_.run.max_diverged_share * r.cohort_size;
    diverged_streak_ = many ? diverged_streak_ + 1 : 0;
    round.stop_diverging = (r.diverged_clients > 0 && r.diverged_clients == r.cohort_size) ||
                           diverged_streak_ >= config_.run.max_diverged_rounds;
    // Finite but exploding: a mean cross-entropy above kExplodingLoss nats gives the true class a
    // probability below e^-100, which no learning model does. Said once per run, on rank 0.
    constexpr double kExplodingLoss = 100.0;
    if (!warned_exploding_ && std::isfinite(r.train_loss) && r.train_loss > kExplodingLoss) {
      warned_exploding_ = true;
      progress_.clear();
      if (rank_ == 0)
        fmt::print(stderr,
                   "fedsaf: warning: round {}: the mean training loss is {:.3g} (above {:g} per sample): the models "
                   "are diverging while still finite; train.lr = {:g} is likely too large for this model and data. "
                   "The run goes on; clients whose model or loss becomes non-finite are left out "
                   "(run.max_diverged_share).\n",
                   round.index + 1, r.train_loss, kExplodingLoss, config_.train.lr);
    }
  }

  // Collective: the stop message, naming the round, the clients and the likely cause.
  std::string divergence_message(const Round& round) {
    const torch::Tensor mine = torch::tensor(round.diverged, torch::kInt64).reshape({-1});  // [k]
    const torch::Tensor all = std::get<0>(comm_.allgatherv(mine).data.sort());              // [K] ascending
    std::vector<int64_t> clients(all.data_ptr<int64_t>(), all.data_ptr<int64_t>() + std::min<int64_t>(all.numel(), 10));
    const RoundRecord& r = round.record;
    const std::string which = fmt::format("{}{}", fmt::join(clients, ", "), all.numel() > 10 ? ", ..." : "");
    const std::string when = diverged_streak_ > 1 ? fmt::format(" ({} rounds in a row at or above run.max_diverged_share "
                                                                "= {})", diverged_streak_, config_.run.max_diverged_share)
                                                  : "";
    return fmt::format(
        "round {}: {} of {} cohort clients diverged (non-finite model or loss after local training: clients {}){}. "
        "Likely cause: a learning rate too large for this model and data (train.lr = {}) or extreme input values. {}",
        round.index + 1, r.diverged_clients, r.cohort_size, which, when, config_.train.lr,
        result_.last_checkpoint.empty()
            ? std::string("No checkpoint was written (no output folder).")
            : fmt::format("The state after this round, diverged clients at their last finite model, is in {}.",
                          result_.last_checkpoint));
  }

  // ---- re-placement (run.rebalance) -------------------------------------------------------
  // Collective: every rank's busy time and estimated work of the round, all-gathered; when the
  // ranks drifted apart, clients move to the placement the measured speeds suggest.
  void rebalance(const Round& round) {
    const RoundTiming& t = round.record.timing;
    double work = 0;  // estimated cost of what this rank trained and evaluated in the round
    for (int64_t client : round.cohort)
      if (rank_of_[static_cast<size_t>(client)] == rank_)
        work += costs_[static_cast<size_t>(client)] - amortised_eval_cost(client);
    if (round.evaluates)
      for (int64_t client : hosted_) work += eval_cost(test_size(client));
    const torch::Tensor mine = torch::tensor({t.train_seconds + t.eval_seconds, work}, torch::kFloat64);  // [2]
    const torch::Tensor all = comm_.allgather(mine);  // [R, 2]
    std::vector<double> busy, done;
    for (int r = 0; r < comm_.size(); ++r) {
      busy.push_back(all[r][0].item<double>());
      done.push_back(all[r][1].item<double>());
    }
    const std::optional<std::vector<int>> placed = rebalancer_.observe(busy, done, costs_, rank_of_);
    if (!placed) return;
    phase_ = "re-placement";
    const Clock::time_point start = Clock::now();
    int64_t moved = 0;
    for (size_t c = 0; c < rank_of_.size(); ++c) moved += (*placed)[c] != rank_of_[c] ? 1 : 0;
    const MovedState state = move_client_state(*algorithm_, *placed, comm_);
    algorithm_.reset();  // its per-client state is in `state` now
    rank_of_ = *placed;
    hosted_ = hosted_clients(rank_of_, rank_);
    context_.hosted = hosted_;
    context_.memory = std::make_shared<ClientMemory>(device_, context_.memory->budget_bytes());
    algorithm_ = make_algorithm(config_);
    algorithm_->init(context_);
    algorithm_->load_state(*state.state);
    if (run_file_) run_file_->append_replacement(round.index, rank_of_);
    ++result_.replacements;
    say(fmt::format("round {}: the ranks waited on average {:.0f} % of the slowest rank's training + evaluation time "
                    "({} rounds in a row above run.rebalance = {:g}); {} clients re-placed by measured speed (ranks "
                    "at {:.2f} of the fastest; moved in {:.2f} s)",
                    round.index + 1, 100 * rebalancer_.last_idle_share(), Rebalancer::kRounds, config_.run.rebalance, moved,
                    fmt::join(relative(rebalancer_.last_speeds()), ", "), seconds_since(start)));
    log_("round {}: re-placed: now hosts {} clients; {} bytes of client state received", round.index + 1,
         hosted_.size(), state.bytes_received);
  }

  // The evaluation part of a client's estimated per-round cost, and its cost per evaluation.
  double amortised_eval_cost(int64_t client) const {
    return eval_cost(test_size(client)) / static_cast<double>(config_.run.eval_every);
  }
  int64_t test_size(int64_t client) const {
    return static_cast<int64_t>(partition_.clients[static_cast<size_t>(client)].test.size());
  }
  static std::vector<double> relative(std::vector<double> speeds) {
    const double fastest = *std::max_element(speeds.begin(), speeds.end());
    for (double& s : speeds) s = fastest > 0 ? s / fastest : 0;
    return speeds;
  }

  // ---- the end ------------------------------------------------------------------------------
  void finish() {
    result_.summary = summarize(result_.evals);
    result_.wall_seconds = earlier_seconds_ + seconds_since(run_start_);
    if (result_.stopped) return;  // the run file stays `running`; the checkpoint continues it
    if (run_file_) run_file_->finish(result_.summary, result_.wall_seconds);
    if (!hosted_.empty() || num_clients_ > 0) {
      // The evaluation model of client 0 (on whichever rank hosts it), broadcast for callers/tests.
      torch::Tensor& params = model_->params();                                                    // [P]
      torch::Tensor final_params = torch::zeros_like(params, torch::kFloat32).to(torch::kCPU);  // [P]
      if (rank_of_[0] == rank_) {
        algorithm_->eval_params(0, params);
        final_params.copy_(params);
      }
      comm_.broadcast(final_params, rank_of_[0]);
      result_.final_params.assign(final_params.data_ptr<float>(), final_params.data_ptr<float>() + final_params.numel());
    }
    say(fmt::format("done: best {:.4f} (round {}), last {:.4f}, mean of last 10 evaluations {:.4f}; {:.1f} s{}",
                    result_.summary.best_accuracy, result_.summary.best_round + 1, result_.summary.last_accuracy,
                    result_.summary.mean_last10, result_.wall_seconds,
                    options_.run_file.empty() ? "" : "; run file " + options_.run_file));
  }

  void say(const std::string& line) {
    progress_.clear();
    if (rank_ == 0 && !options_.quiet) fmt::print("{}\n", line), std::fflush(stdout);
  }
  // On a terminal, rank 0's progress inside the round (this rank's clients only).
  void progress(const Round& round, const char* phase, int64_t done = 0, int64_t total = 0) {
    progress_.update(round.index + 1, config_.run.rounds, phase, done, total, round.start);
  }

  const Config& config_;
  const RunOptions& options_;
  Communicator& comm_;
  const int rank_;
  const Clock::time_point run_start_ = Clock::now();
  RankLog log_;
  ProgressLine progress_{rank_ == 0 && !options_.quiet};
  const char* phase_ = "start";  // what this rank is doing, for a fatal error's message

  Dataset data_, device_data_;
  Partition partition_;
  std::vector<int> rank_of_;     // client → the rank hosting it
  std::vector<int64_t> hosted_;  // this rank's clients, ascending
  int64_t num_clients_ = 0;
  DeviceChoice choice_;
  torch::Device device_{torch::kCPU};
  std::unique_ptr<FlatModel> model_;
  AlgoContext context_;
  std::unique_ptr<Algorithm> algorithm_;
  std::unique_ptr<WeightedAverage> average_;
  std::unique_ptr<RunFile> run_file_;
  std::vector<double> costs_;  // every client's estimated per-round cost (placement.hpp)
  Rebalancer rebalancer_{config_.run.rebalance, comm_.size()};
  int64_t first_round_ = 0;
  int64_t client_group_ = 1;  // clients trained together (train.client_group, resolved)
  double earlier_seconds_ = 0;  // wall time of the segments before a resume
  int64_t diverged_streak_ = 0;  // rounds in a row with at least run.max_diverged_share diverging
  bool warned_exploding_ = false;  // the exploding-loss warning is said once per run
  RunResult result_;
};

}  // namespace

RunResult run_experiment(const Config& config, const RunOptions& options, Communicator& comm) {
  return Experiment(config, options, comm).run();
}

}  // namespace fedsaf
