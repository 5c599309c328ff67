// Checkpoint write throughput vs the raw sequential write speed of the same number of bytes to
// the same folder, measured alternately in one process (ratio; target ≥ 0.8), and the extra time
// per round at the default checkpoint frequency. The state is FedSAF's for the FashionMNIST
// setting of the study: N clients × the FedAvg CNN (P = 582,026) split at n_head = 2 (S = 52,096):
// θ_i [P], Fisher weights [S], mix [S] per client.
// Usage: bench_checkpoint [clients=20] [repeats=5] [seconds_per_round=35] [dir=/tmp]
#include <fcntl.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "algo/pairwise.hpp"
#include "algo/registry.hpp"
#include "core/config.hpp"
#include "data/dataset.hpp"
#include "io/run_file.hpp"
#include "model/model.hpp"
#include "mpi/mpi_communicator.hpp"
#include "mpi/environment.hpp"
#include "sim/checkpoint.hpp"
#include "sim/cohort_reduction.hpp"

using namespace fedsaf;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The baseline: `bytes` bytes written sequentially in 4 MiB blocks, fsync'd, closed, removed.
double raw_write_seconds(const std::string& path, int64_t bytes) {
  std::vector<char> block(size_t{4} << 20, 'x');
  const auto t0 = Clock::now();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  for (int64_t done = 0; done < bytes;) {
    const auto n = static_cast<size_t>(std::min<int64_t>(bytes - done, static_cast<int64_t>(block.size())));
    if (::write(fd, block.data(), n) != static_cast<ssize_t>(n)) std::perror("write");
    done += static_cast<int64_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  const double s = seconds(t0);
  std::filesystem::remove(path);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t clients = argc > 1 ? std::stoll(argv[1]) : 20;
  const int repeats = argc > 2 ? std::stoi(argv[2]) : 5;
  const double round_seconds = argc > 3 ? std::stod(argv[3]) : 35.0;
  const std::string base = argc > 4 ? argv[4] : "/tmp";
  Environment mpi;
  MpiCommunicator comm(MPI_COMM_WORLD);
  torch::set_num_threads(1);
  const std::string dir = base + "/fedsaf-bench-checkpoint";
  std::filesystem::create_directories(dir);

  const int64_t p = 582026, s = 52096;
  const Config config = default_config({"run.algorithm=fedsaf", "run.clients=" + std::to_string(clients),
                                        "fedsaf.fisher_source=last_epoch", "attention.kernel=samples"});
  AlgoContext context;
  context.train = config.train;
  context.seed = config.run.seed;
  context.num_clients = clients;
  context.make_exchange = exchanges_on(comm, clients);
  context.train_sizes.assign(static_cast<size_t>(clients), 100);
  for (int64_t c = 0; c < clients; ++c) context.hosted.push_back(c);
  context.initial_params = torch::zeros({p});  // [P]
  context.shared_numel = s;
  context.shared_tensor_names = {"shared"};
  context.shared_tensor_sizes = {s};
  std::unique_ptr<Algorithm> algorithm = make_algorithm(config);
  algorithm->init(context);
  ModelConfig mc;
  mc.name = "logreg";
  std::unique_ptr<FlatModel> model = make_model(mc, {2}, 2, 1);  // unused by the last_epoch Fisher
  const Dataset data;
  // One round with random models and gradients fills every per-client state.
  const std::vector<int64_t> cohort = context.hosted;
  CohortReduction reduction(algorithm->statistics(), clients, torch::kCPU);  // the engine's
  algorithm->round_begin(0, cohort);
  for (int64_t c : cohort) {
    torch::Tensor params = torch::empty({p});  // [P]
    algorithm->client_begin(c, params);
    torch::Tensor grads = torch::randn({p});  // [P]
    algorithm->add_regularizer_grad(c, params, grads);
    const std::vector<int64_t> no_indices;
    const std::vector<StackedClient> alone{{c, &no_indices, {}}};
    algorithm->clients_trained({alone, *model, torch::Tensor(), data, 0});
    ClientStatistics statistics;
    algorithm->client_end(c, torch::randn({p}), statistics);
    reduction.add(c, 100.0, statistics);
  }
  ServerStep step;
  step.evaluates = true;
  step.next_cohort = cohort;
  step.statistics = reduction.reduce(comm);
  algorithm->server_step(step);

  RunFileInfo info;
  info.config_toml = to_toml(config);
  info.algorithm = "fedsaf";
  info.num_clients = clients;
  info.num_params = p;
  info.shared_params = s;
  const std::string run_file = dir + "/run.h5";
  { RunFile file(run_file, mpi_handle(comm, "bench_checkpoint"), info); file.file().flush(); }

  CheckpointMeta meta;
  meta.config_toml = info.config_toml;
  double ckpt_total = 0, raw_total = 0;
  int64_t bytes = 0;
  for (int r = 0; r < repeats; ++r) {
    meta.rounds_done = r + 1;
    auto t0 = Clock::now();
    const std::string path =
        write_checkpoint(dir + "/checkpoints", run_file, meta, *algorithm, *context.states, 2, comm);
    const double ckpt = seconds(t0);
    bytes = static_cast<int64_t>(std::filesystem::file_size(path));
    const double raw = raw_write_seconds(dir + "/raw.bin", bytes);
    if (r > 0) ckpt_total += ckpt, raw_total += raw;  // the first of each warms the page cache
    std::printf("repeat %d: checkpoint %.1f MB in %.3f s (%.0f MB/s), raw write %.3f s (%.0f MB/s)\n", r, bytes / 1e6,
                ckpt, bytes / 1e6 / ckpt, raw, bytes / 1e6 / raw);
  }
  const double ckpt_mean = ckpt_total / (repeats - 1), raw_mean = raw_total / (repeats - 1);
  std::printf("checkpoint throughput / raw sequential write = %.2f (target >= 0.8)\n", raw_mean / ckpt_mean);
  std::printf("checkpoint %.3f s every %lld rounds = %.3f s extra per round = %.2f%% of a %.0f s round\n", ckpt_mean,
              static_cast<long long>(config.run.checkpoint_every), ckpt_mean / config.run.checkpoint_every,
              100 * ckpt_mean / config.run.checkpoint_every / round_seconds, round_seconds);
  std::filesystem::remove_all(dir);
  return 0;
}
