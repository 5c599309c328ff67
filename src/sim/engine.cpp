#include "sim/engine.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>

#include "algo/algorithm.hpp"
#include "client/evaluate.hpp"
#include "client/fisher.hpp"
#include "client/trainer.hpp"
#include "core/errors.hpp"
#include "data/dataset.hpp"
#include "data/partition.hpp"
#include "data/partition_table.hpp"
#include "io/run_file.hpp"
#include "model/model.hpp"
#include "mpi/communicator.hpp"
#include "mpi/environment.hpp"
#include "sim/device.hpp"
#include "sim/gpu_info.hpp"
#include "sim/placement.hpp"
#include "sim/stop_signal.hpp"

namespace fedsaf {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The Communicator's payload counters summed over every collective kind: (sent, received).
std::pair<int64_t, int64_t> total_bytes(const Communicator& comm) {
  const CommStats s = comm.total_stats();
  return {s.bytes_sent, s.bytes_received};
}

std::string format_eta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

// Every rank's ξ rows gathered into the full N×N matrix (row-major; NaN rows where no row was
// computed). Collective.
std::vector<float> gather_attention(const AttentionReport& report, int64_t num_clients, Communicator& comm) {
  const Gathered clients = comm.allgatherv(report.clients.to(torch::kCPU, torch::kInt64).contiguous());  // [K]
  const Gathered rows = comm.allgatherv(
      report.xi.to(torch::kCPU, torch::kFloat32).reshape({-1, num_clients}).contiguous());  // [K, N]
  torch::Tensor matrix = torch::full({num_clients, num_clients}, std::numeric_limits<float>::quiet_NaN());  // [N, N]
  if (clients.data.numel() > 0) matrix.index_copy_(0, clients.data, rows.data);
  return std::vector<float>(matrix.data_ptr<float>(), matrix.data_ptr<float>() + matrix.numel());
}

// Per shared tensor, over every rank's clients that trained in the round: mean and max of F (NaN
// where no client computed a Fisher in the round).
struct FisherStats {
  std::vector<double> mean, max;
};
FisherStats reduce_fisher_report(const FisherReport& report, int64_t round, Communicator& comm) {
  const int64_t tensors = report.sum.numel();
  const bool fresh = report.round == round;
  torch::Tensor sums = torch::zeros({2, tensors}, torch::kFloat64);  // [2, T]: Σ F, count
  if (fresh) sums[0].copy_(report.sum), sums[1].copy_(report.count);
  comm.allreduce_sum(sums);
  // F ≥ 0, so the max over ranks is the max of the gathered per-rank maxima.
  const torch::Tensor local_max = fresh ? report.max.to(torch::kFloat64) : torch::zeros({tensors}, torch::kFloat64);
  const torch::Tensor maxima = comm.allgather(local_max).reshape({-1, tensors}).amax(0);  // [T]
  FisherStats stats;
  for (int64_t i = 0; i < tensors; ++i) {
    const double count = sums[1][i].item<double>();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    stats.mean.push_back(count > 0 ? sums[0][i].item<double>() / count : nan);
    stats.max.push_back(count > 0 ? maxima[i].item<double>() : nan);
  }
  return stats;
}

// Every rank's text (at most 255 bytes each), rank 0 first. Collective.
std::vector<std::string> allgather_text(const std::string& text, Communicator& comm) {
  constexpr int64_t kWidth = 256;
  torch::Tensor mine = torch::zeros({kWidth}, torch::kUInt8);  // [256] NUL-padded
  std::memcpy(mine.data_ptr<uint8_t>(), text.data(), std::min<size_t>(text.size(), kWidth - 1));
  const torch::Tensor all = comm.allgather(mine).contiguous();  // [R, 256]
  std::vector<std::string> texts;
  for (int64_t r = 0; r < all.size(0); ++r) texts.emplace_back(reinterpret_cast<const char*>(all[r].data_ptr<uint8_t>()));
  return texts;
}

std::string host_name() {
  char name[256] = {};
  return gethostname(name, sizeof(name) - 1) == 0 ? std::string(name) : std::string("unknown");
}

class RankLog {
 public:
  RankLog(const std::string& dir, int rank) {
    if (!dir.empty()) {
      const std::string path = fmt::format("{}/rank-{}.log", dir, rank);
      out_ = std::make_unique<std::ofstream>(path);
      if (!*out_) throw IoError(fmt::format("{}: cannot open the per-rank log for writing", path));
    }
  }
  template <typename... Args>
  void operator()(fmt::format_string<Args...> f, Args&&... args) {
    if (out_) *out_ << fmt::format(f, std::forward<Args>(args)...) << std::endl;
  }

 private:
  std::unique_ptr<std::ofstream> out_;
};

}  // namespace

RunResult run_experiment(const Config& config, const RunOptions& options, Communicator& comm) {
  const auto run_start = Clock::now();
  const int rank = comm.rank(), world = comm.size();
  const uint64_t seed = config.run.seed;
  RankLog log(options.log_dir, rank);
  const auto say = [&](const std::string& line) {
    if (rank == 0 && !options.quiet) fmt::print("{}\n", line), std::fflush(stdout);
  };

  // Every rank loads the data once and derives the same partition, placement and θ⁰. Errors here
  // (a bad data file, an impossible partition) happen on every rank alike: agreed() ends the run
  // cleanly with one message.
  Dataset data;
  Partition partition;
  std::vector<int64_t> train_sizes;
  std::vector<int> rank_of;
  std::vector<int64_t> hosted;
  DeviceChoice choice;
  torch::Device device(torch::kCPU);
  std::unique_ptr<FlatModel> model;
  std::unique_ptr<Algorithm> algorithm;
  AlgoContext context;
  agreed(
      [&] {
        data = load_dataset(config);
        partition = make_partition(config.partition, seed, config.run.clients, data.labels(), data.groups(),
                                   data.num_classes);
        for (const auto& c : partition.clients) train_sizes.push_back(static_cast<int64_t>(c.train.size()));
        rank_of = place_clients(train_sizes, world);
        hosted = hosted_clients(rank_of, rank);
        choice = select_device(config.run.device, node_local_rank(comm.local_rank()), comm.local_size(),
                               static_cast<int>(config.run.max_ranks_per_gpu));
        device = choice.device;
        // On a GPU too: the attention stage and the staging of collectives run on the CPU, and
        // LibTorch's default (every core, in every rank) oversubscribes a node with many ranks.
        torch::set_num_threads(static_cast<int>(config.run.threads_per_rank));
        comm.set_cuda_aware(cuda_aware_wanted(config.run.cuda_aware_mpi));
        model = make_model(config.model, data.sample_shape(), data.num_classes, seed);
        model->to(device);
        context.config = &config;
        context.comm = &comm;
        context.num_clients = static_cast<int64_t>(partition.clients.size());
        context.train_sizes = train_sizes;
        context.hosted = hosted;
        context.initial_params = model->params().clone();  // [P]
        context.shared_numel = model->shared_numel(config.model.n_head);
        context.shared_tensor_names = shared_tensor_names(*model, config.model.n_head);
        context.shared_tensor_sizes = shared_tensor_sizes(*model, config.model.n_head);
        int64_t gpu_bytes = 0;
        for (const GpuInfo& g : visible_gpus())
          if (device.is_cuda() && g.index == device.index()) gpu_bytes = g.total_bytes;
        context.memory = std::make_shared<ClientMemory>(
            device, client_state_budget(config.run.device_state_mb, device, gpu_bytes, choice.ranks_sharing));
        algorithm = make_algorithm(config);
        algorithm->init(context);
      },
      comm.raw());
  const int64_t num_clients = context.num_clients;
  // The data set on this rank's device, once (uint8 images stay uint8); every batch is gathered there.
  const Dataset device_data = data.on(device);
  if (rank == 0 && !choice.warning.empty()) fmt::print(stderr, "fedsaf: warning: {}\n", choice.warning);
  const int64_t first_round = options.resume ? options.resume->rounds_done : 0;
  const double earlier_seconds = options.resume ? options.resume->elapsed_seconds : 0.0;
  if (options.resume) {
    // Every rank reads the state of the clients it hosts now; rank 0 puts the run file back as it
    // was at the checkpoint (the rows of any later rounds are recomputed identically).
    agreed(
        [&] {
          if (rank == 0 && !options.run_file.empty()) restore_run_file(options.resume->path, options.run_file);
          load_checkpoint_state(options.resume->path, *algorithm);
        },
        comm.raw());
  }

  say(fmt::format("fedsaf: {} on {} ({} samples, {} classes), {} clients on {} rank(s), model {} ({} parameters), "
                  "device {}",
                  algorithm->name(), data.name, data.size(), data.num_classes, num_clients, world, config.model.name,
                  model->num_params(), device.str()));
  log("rank {} hosts {} clients on {}", rank, hosted.size(), device.str());
  const std::vector<std::string> hostnames = allgather_text(host_name(), comm);  // collective
  const std::vector<std::string> devices = allgather_text(device.str(), comm);   // collective

  std::unique_ptr<RunFile> run_file;
  if (!options.run_file.empty()) {
    RunFileInfo info;
    info.config_toml = to_toml(config);
    info.algorithm = algorithm->name();
    info.device = device.str();
    info.dataset = data.name;
    info.model = config.model.name;
    info.seed = seed;
    info.world_size = world;
    info.num_clients = num_clients;
    info.num_classes = data.num_classes;
    info.num_params = model->num_params();
    info.shared_params = context.shared_numel;
    info.rounds = config.run.rounds;
    info.rank_hostnames = hostnames;
    info.rank_devices = devices;
    if (options.resume) {
      run_file = std::make_unique<RunFile>(options.run_file, comm.raw(), info, RunFile::Open::kContinue);
    } else {
      run_file = std::make_unique<RunFile>(options.run_file, comm.raw(), info);
      h5::Group group = run_file->file().create_group("partition");
      write_partition_h5(partition, group);
      group.write("placement", std::vector<int64_t>(rank_of.begin(), rank_of.end()));
    }
  }

  RunResult result;
  result.first_round = first_round;
  if (options.resume) {
    if (run_file) result.evals = run_file->read_evals();
    for (int64_t round = 0; round < first_round; ++round) {
      const std::vector<int64_t> cohort = sample_cohort(seed, round, num_clients, config.run.join_ratio);
      result.cohort_history.insert(result.cohort_history.end(), cohort.begin(), cohort.end());
    }
    if (rank == 0)  // even with --quiet: where a run continues from belongs in every job log
      fmt::print("fedsaf: resuming from {} after round {} of {}\n", options.resume->path, first_round, config.run.rounds),
          std::fflush(stdout);
  }
  torch::Tensor& params = model->params();  // [P]
  // An error on this rank alone (a diverging client, a bug) while the others wait in a collective:
  // end the whole job here, before unwinding reaches the run file, whose close is collective.
  // Errors every rank knows about (AgreedError) unwind on every rank alike.
  const char* phase = "start";  // what this rank was doing, for that message
  int64_t current_round = first_round;
  try {
    for (int64_t round = first_round; round < config.run.rounds; ++round) {
      current_round = round;
      set_fail_point_round(round + 1);
      const auto round_start = Clock::now();
      double attention_io_seconds = 0;  // attention and Fisher statistics writes
      RoundRecord record;
      record.round = round;
      const auto [sent0, received0] = total_bytes(comm);

      const std::vector<int64_t> cohort = sample_cohort(seed, round, num_clients, config.run.join_ratio);
      record.cohort_size = static_cast<int64_t>(cohort.size());
      record.protocol_bytes_up = record.cohort_size * algorithm->protocol_floats_up() * 4;
      record.protocol_bytes_down = record.cohort_size * algorithm->protocol_floats_down() * 4;
      result.cohort_history.insert(result.cohort_history.end(), cohort.begin(), cohort.end());
      auto t = Clock::now();
      phase = "round start (attention)";
      algorithm->round_begin(round, cohort);
      record.timing.comm_seconds += seconds_since(t);

      // Local training of this rank's cohort clients.
      t = Clock::now();
      torch::Tensor loss_sums = torch::zeros({2}, torch::kFloat64);  // [Σ n·loss, Σ n]
      phase = "training";
      for (int64_t client : cohort) {
        if (rank_of[static_cast<size_t>(client)] != rank) continue;
        fail_point("training");
        algorithm->client_begin(client, params);
        const RegularizerGrad regularizer = [&](const torch::Tensor& p, torch::Tensor& g) {
          return algorithm->add_regularizer_grad(client, p, g);
        };
        const auto& train_indices = partition.clients[static_cast<size_t>(client)].train;
        const TrainStats stats = train_client(*model, device_data, train_indices, config.train, seed, round, client, regularizer,
                                              device, algorithm->trainable_numel(model->num_params()));
        algorithm->client_trained(client, *model, device_data, train_indices, round);
        algorithm->client_end(client, params);
        const double n = static_cast<double>(train_sizes[static_cast<size_t>(client)]);
        loss_sums[0] += stats.mean_loss() * n;
        loss_sums[1] += n;
        log("round {} client {}: {} batches, mean loss {:.5f}", round, client, stats.batches, stats.mean_loss());
      }
      record.timing.train_seconds = seconds_since(t);

      t = Clock::now();
      phase = "server step";
      fail_point("server step");
      algorithm->server_step(round);
      comm.allreduce_sum(loss_sums);
      record.timing.comm_seconds += seconds_since(t);
      record.train_loss = loss_sums[1].item<double>() > 0 ? (loss_sums[0] / loss_sums[1]).item<double>() : 0.0;
      std::string attention_note;
      if (const AttentionReport* report = algorithm->attention_report()) {
        const bool fresh = report->round == round;
        if (fresh && report->rows > 0)
          attention_note = fmt::format("  ξ-guard {}/{}", report->guard_fired, report->rows);
        if (run_file) {
          t = Clock::now();
          std::vector<float> matrix;
          if (fresh && report->rows > 0 && config.attention.every > 0 && (round + 1) % config.attention.every == 0)
            matrix = gather_attention(*report, num_clients, comm);  // collective
          record.timing.comm_seconds += seconds_since(t);
          t = Clock::now();
          run_file->append_attention_stats(fresh ? report->rows : 0, fresh ? report->guard_fired : 0,
                                           fresh ? report->sigma : 0.0);
          if (!matrix.empty()) run_file->append_attention_matrix(round, matrix);
          attention_io_seconds = seconds_since(t);
        }
      }

      if (const FisherReport* fisher = algorithm->fisher_report(); fisher && run_file) {
        t = Clock::now();
        const FisherStats stats = reduce_fisher_report(*fisher, round, comm);  // collective
        record.timing.comm_seconds += seconds_since(t);
        t = Clock::now();
        run_file->append_fisher_stats(context.shared_tensor_names, stats.mean, stats.max);
        attention_io_seconds += seconds_since(t);
      }

      // Evaluation of every client on its own test split.
      const bool evaluate = (round + 1) % config.run.eval_every == 0 || round + 1 == config.run.rounds;
      if (evaluate) {
        t = Clock::now();
        torch::Tensor per_client = torch::zeros({3, num_clients}, torch::kFloat64);  // [correct; tested; loss_sum]
        AucHistogram auc;
        phase = "evaluation";
        for (int64_t client : hosted) {
          fail_point("evaluation");
          algorithm->eval_params(client, params);
          const ClientEval e = evaluate_client(*model, device_data, partition.clients[static_cast<size_t>(client)].test,
                                               device, auc);
          per_client[0][client] = static_cast<double>(e.correct);
          per_client[1][client] = static_cast<double>(e.tested);
          per_client[2][client] = e.loss_sum;
        }
        record.timing.eval_seconds = seconds_since(t);
        t = Clock::now();
        comm.allreduce_sum(per_client);  // each client's entries are non-zero on exactly one rank
        comm.allreduce_sum(auc.counts());
        record.timing.comm_seconds += seconds_since(t);
        const auto column = [&](int64_t row) {
          const torch::Tensor r = per_client[row].contiguous();
          return std::vector<double>(r.data_ptr<double>(), r.data_ptr<double>() + num_clients);
        };
        result.evals.push_back(make_eval_record(round, column(0), column(1), column(2), auc.auc()));
      }

      const auto [sent1, received1] = total_bytes(comm);
      record.timing.bytes_sent = sent1 - sent0;
      record.timing.bytes_received = received1 - received0;
      record.wall_seconds = seconds_since(round_start);
      record.client_updates_per_second = static_cast<double>(record.cohort_size) / std::max(record.wall_seconds, 1e-9);
      if (run_file) {
        t = Clock::now();
        phase = "run file";
        fail_point("run file");
        run_file->append_round(record);
        const ClientMemory& memory = *context.memory;
        run_file->set_client_state(memory.device_bytes(), memory.host_bytes(), memory.budget_bytes());
        if (evaluate) run_file->append_eval(result.evals.back(), hosted);
        run_file->file().flush();  // readable while the run goes on, and durable if it dies
        record.timing.io_seconds = seconds_since(t) + attention_io_seconds;
        run_file->set_io_seconds(round, record.timing.io_seconds);
      }
      result.rounds.push_back(record);

      const double elapsed = seconds_since(run_start);
      const double eta = elapsed / static_cast<double>(round + 1 - first_round) *
                         static_cast<double>(config.run.rounds - round - 1);
      if (evaluate) {
        const EvalRecord& e = result.evals.back();
        say(fmt::format("round {}/{}  acc {:.4f} (clients {:.4f} ± {:.4f})  loss {:.4f}  auc {:.4f}  train-loss {:.4f}  "
                        "{:.2f} s/round  ETA {}{}",
                        round + 1, config.run.rounds, e.accuracy, e.accuracy_mean, e.accuracy_std, e.loss, e.auc,
                        record.train_loss, record.wall_seconds, format_eta(eta), attention_note));
      } else {
        say(fmt::format("round {}/{}  train-loss {:.4f}  {:.2f} s/round  ETA {}{}", round + 1, config.run.rounds,
                        record.train_loss, record.wall_seconds, format_eta(eta), attention_note));
      }

      // Checkpoint when due, after the last round, or when any rank got a stop signal (one
      // collective flag, so every rank stops after the same round).
      const bool stop = any_rank_failed(stop_requested(), comm.raw());
      const int64_t every = config.run.checkpoint_every;
      const bool last = round + 1 == config.run.rounds;
      if (!options.checkpoint_dir.empty() && run_file && (stop || last || (every > 0 && (round + 1) % every == 0))) {
        t = Clock::now();
        phase = "checkpoint";
        CheckpointMeta meta;
        meta.rounds_done = round + 1;
        meta.elapsed_seconds = earlier_seconds + seconds_since(run_start);
        meta.config_toml = to_toml(config);
        result.last_checkpoint =
            write_checkpoint(options.checkpoint_dir, options.run_file, meta, *algorithm, config.run.checkpoint_keep, comm);
        say(fmt::format("checkpoint {} ({:.2f} s)", result.last_checkpoint, seconds_since(t)));
      }
      if (stop && !last) {
        result.stopped = true;
        say(fmt::format("stopped by a signal after round {}{}", round + 1,
                        result.last_checkpoint.empty() ? " (no checkpoint: no output folder)" : "; run the same command again to resume"));
        break;
      }
    }
  } catch (const AgreedError&) {
    throw;
  } catch (const std::exception& e) {
    fatal(fmt::format("round {}, {}: {}", current_round + 1, phase, e.what()));
  }

  result.summary = summarize(result.evals);
  result.wall_seconds = earlier_seconds + seconds_since(run_start);
  if (result.stopped) return result;  // the run file stays `running`; the checkpoint continues it
  if (run_file) run_file->finish(result.summary, result.wall_seconds);
  if (!hosted.empty() || num_clients > 0) {
    // The evaluation model of client 0 (on whichever rank hosts it), broadcast for callers/tests.
    torch::Tensor final_params = torch::zeros_like(params, torch::kFloat32).to(torch::kCPU);  // [P]
    if (rank_of[0] == rank) {
      algorithm->eval_params(0, params);
      final_params.copy_(params);
    }
    comm.broadcast(final_params, rank_of[0]);
    result.final_params.assign(final_params.data_ptr<float>(), final_params.data_ptr<float>() + final_params.numel());
  }
  say(fmt::format("done: best {:.4f} (round {}), last {:.4f}, mean of last 10 evaluations {:.4f}; {:.1f} s{}",
                  result.summary.best_accuracy, result.summary.best_round + 1, result.summary.last_accuracy,
                  result.summary.mean_last10, result.wall_seconds,
                  options.run_file.empty() ? "" : "; run file " + options.run_file));
  return result;
}

}  // namespace fedsaf
