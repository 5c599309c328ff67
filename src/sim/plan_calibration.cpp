#include "sim/plan_calibration.hpp"

#include <algorithm>
#include <vector>

#include "algo/attention_mix.hpp"
#include "algo/attention_options.hpp"
#include "algo/client_state_store.hpp"
#include "client/evaluate.hpp"
#include "client/stacked_trainer.hpp"
#include "client/trainer.hpp"
#include "core/stopwatch.hpp"
#include "sim/federation.hpp"  // usable_client_group
#include "mpi/in_process_communicator.hpp"
#include "sim/host_memory.hpp"

namespace fedsaf {

namespace {

// The best of `repeats` timings of f (the machine is shared: the best is the closest to its rate).
template <typename F>
double best_seconds(int repeats, F&& f) {
  double best = 1e300;
  for (int i = 0; i < repeats; ++i) {
    const auto start = Clock::now();
    f();
    best = std::min(best, seconds_since(start));
  }
  return best;
}

double gemm_flops_per_second() {
  constexpr int64_t kSide = 1024;
  const torch::Tensor a = torch::randn({kSide, kSide});  // [n, n]
  const torch::Tensor b = torch::randn({kSide, kSide});  // [n, n]
  torch::Tensor c = torch::empty({kSide, kSide});        // [n, n]
  const double seconds = best_seconds(5, [&] { torch::mm_out(c, a, b); });
  return 2.0 * kSide * kSide * kSide / seconds;
}

// Into a new tensor each time, as the attention stage gathers uploads and rows: 64 MiB is above
// glibc's largest mmap threshold (32 MiB), so every copy pays for fresh pages, as those gathers do.
double copy_bytes_per_second() {
  constexpr int64_t kFloats = int64_t{16} << 20;  // 64 MiB
  const torch::Tensor from = torch::ones({kFloats});  // [n]
  const double seconds = best_seconds(5, [&] { torch::empty({kFloats}).copy_(from); });
  return static_cast<double>(from.nbytes()) / seconds;
}

// The attention stage as one rank runs it, on random uploads about 64 MiB wide (at most 512
// held, half as many rows): gathering the held uploads from a client-state store and registering
// them (PairwiseExchange::set_held), in their bytes per second (the mean of three: each step of a
// run gathers into fresh memory), and attention_mix, in attention_flops per second (the best of
// two after a first call that allocates the exchange's buffers).
void calibrate_attention(const PlanSetup& setup, const Config& config, PlanRates& rates) {
  const PlanInputs& in = setup.inputs;
  const int64_t d = in.protocol_down;
  const bool weighted = in.fisher_weighted_uploads();
  const int64_t held = std::clamp<int64_t>((int64_t{64} << 20) / std::max<int64_t>(4 * d, 1), 16, 512);
  const int64_t rows = held / 2;
  std::vector<int64_t> sizes(static_cast<size_t>(held + rows), 100);  // n_i: equal (the samples kernel's weights)
  ClientStateStore store(std::make_shared<ClientMemory>(torch::Device(torch::kCPU), -1));
  RowState& params = store.rows("params", d, torch::kFloat32);
  RowState& weights = store.rows("weights", d, torch::kFloat32);
  std::vector<int64_t> ids;
  for (int64_t c = 0; c < held; ++c) {
    params.put(c, torch::randn({d}));                          // [D]
    if (weighted) weights.put(c, torch::rand({d}) + 1.0);      // [D]
    ids.push_back(c);
  }
  MixRows mix_rows;
  mix_rows.params = torch::randn({rows, d});                           // [k, D]
  mix_rows.clients = torch::arange(held, held + rows, torch::kInt64);  // [k]
  mix_rows.sigma_rows = torch::ones({rows}, torch::kBool);             // [k]
  if (weighted) mix_rows.self_weights = torch::rand({rows, d}) + 1.0;  // [k, D]
  double held_seconds = 0, mix_seconds = 1e300;
  constexpr int kCalls = 3;
  run_in_process(1, [&](Communicator& comm) {
    PairwiseExchange exchange(comm, setup.exchange_mode, setup.exchange_precision, held + rows);
    RowBuffer kept_params, kept_weights;  // as fedsaf / fedamp keep them from round to round
    for (int i = 0; i < kCalls; ++i) {
      auto start = Clock::now();
      HeldUploads uploads;
      uploads.ids = torch::tensor(ids, torch::kInt64);  // [m]
      uploads.params = params.gather(ids, d, &kept_params);                   // [m, D]
      if (weighted) uploads.weights = weights.gather(ids, d, &kept_weights);  // [m, D]
      exchange.set_held(uploads);
      held_seconds += seconds_since(start);
      start = Clock::now();
      attention_mix(exchange, config.section<AttentionOptions>(), sizes, mix_rows, /*keep_xi=*/false);
      if (i > 0) mix_seconds = std::min(mix_seconds, seconds_since(start));
    }
  });
  rates.held_bytes_per_second = static_cast<double>(kCalls * held * d * 4 * (weighted ? 2 : 1)) / held_seconds;
  rates.attention_flops_per_second = attention_flops(rows, held, d, weighted) / mix_seconds;
}

// Trains `clients` in round 0 as CohortTrainer does (in groups of `group` where they can train
// together, largest first; alone otherwise), through the algorithm's hooks. Returns the seconds.
double train_as_a_round(PlanSetup& setup, const Config& config, const std::vector<int64_t>& clients, int64_t group) {
  FlatModel& model = *setup.model;
  Algorithm& algorithm = *setup.algorithm;
  const torch::Device cpu(torch::kCPU);
  const int64_t trainable = algorithm.local_training().trainable;
  auto split = [&](int64_t c) -> const ClientSplit& { return setup.partition.clients[static_cast<size_t>(c)]; };
  auto regularizer = [&algorithm](int64_t c) -> RegularizerGrad {
    return [&algorithm, c](const torch::Tensor& p, torch::Tensor& g) { return algorithm.add_regularizer_grad(c, p, g); };
  };
  std::vector<int64_t> alone, together;
  for (int64_t c : clients)
    (group > 1 && can_train_stacked(static_cast<int64_t>(split(c).train.size()), config.train) ? together : alone)
        .push_back(c);
  std::stable_sort(together.begin(), together.end(),
                   [&](int64_t a, int64_t b) { return split(a).train.size() > split(b).train.size(); });
  const auto start = Clock::now();
  algorithm.round_begin(0, clients);
  for (int64_t c : alone) {
    algorithm.client_begin(c, model.params());
    train_client(model, setup.data, split(c).train, config.train, config.run.seed, 0, c, regularizer(c), cpu, trainable);
    const std::vector<StackedClient> one{{c, &split(c).train, {}}};
    algorithm.clients_trained({one, model, torch::Tensor(), setup.data, 0});
    ClientStatistics statistics;
    algorithm.client_end(c, model.params(), statistics);
  }
  for (size_t first = 0; first < together.size(); first += static_cast<size_t>(group)) {
    const size_t end = std::min(together.size(), first + static_cast<size_t>(group));
    torch::Tensor stacked = torch::empty({static_cast<int64_t>(end - first), model.num_params()});  // [G, P]
    std::vector<StackedClient> members;
    for (size_t i = first; i < end; ++i) {
      torch::Tensor row = stacked[static_cast<int64_t>(i - first)];  // [P]
      algorithm.client_begin(together[i], row);
      members.push_back({together[i], &split(together[i]).train, regularizer(together[i])});
    }
    train_clients_stacked(model, stacked, setup.data, members, config.train, config.run.seed, 0, cpu, trainable);
    algorithm.clients_trained({members, model, stacked, setup.data, 0});
    for (size_t i = 0; i < members.size(); ++i) {
      model.params().copy_(stacked[static_cast<int64_t>(i)]);
      ClientStatistics statistics;
      algorithm.client_end(members[i].client, model.params(), statistics);
    }
  }
  return seconds_since(start);
}

}  // namespace

PlanRates calibrate_plan(PlanSetup& setup, const Config& config, int64_t clients) {
  torch::set_num_threads(static_cast<int>(config.run.threads_per_rank));
  const torch::Device cpu(torch::kCPU);
  const int64_t group = usable_client_group(config.train.client_group, *setup.model, *setup.algorithm, cpu);
  // At least one whole group, evenly spread over the busiest rank's clients.
  const std::vector<int64_t>& hosted = setup.context.hosted;
  const size_t count = std::min(static_cast<size_t>(std::max(clients, group)), hosted.size());
  std::vector<int64_t> picked;
  for (size_t i = 0; i < count; ++i) picked.push_back(hosted[i * hosted.size() / count]);
  const double train_seconds = train_as_a_round(setup, config, picked, group);
  int64_t train_samples = 0, test_samples = 0;
  double eval_seconds = 0;
  for (int64_t client : picked) {
    const ClientSplit& split = setup.partition.clients[static_cast<size_t>(client)];
    train_samples += config.train.local_epochs * static_cast<int64_t>(split.train.size());
    AucHistogram auc;
    const auto start = Clock::now();
    evaluate_client(*setup.model, setup.data, split.test, cpu, auc, eval_batch_for(config.run.eval_batch_size, cpu));
    eval_seconds += seconds_since(start);
    test_samples += static_cast<int64_t>(split.test.size());
  }
  PlanRates rates;
  rates.train_seconds_per_sample = train_seconds / static_cast<double>(std::max<int64_t>(train_samples, 1));
  rates.eval_seconds_per_sample = eval_seconds / static_cast<double>(std::max<int64_t>(test_samples, 1));
  rates.baseline_bytes = std::max<int64_t>(resident_bytes() - setup.inputs.data_bytes, 0);  // before the buffers below
  rates.gemm_flops_per_second = gemm_flops_per_second();
  rates.copy_bytes_per_second = copy_bytes_per_second();
  if (setup.inputs.pairwise) calibrate_attention(setup, config, rates);
  return rates;
}

}  // namespace fedsaf
