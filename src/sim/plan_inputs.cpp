#include "sim/plan_inputs.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "algo/registry.hpp"
#include "client/evaluate.hpp"  // AucHistogram
#include "core/errors.hpp"
#include "core/eval_clients.hpp"
#include "io/run_file.hpp"  // per_client_chunk_rows
#include "sim/federation.hpp"  // model_context
#include "sim/placement.hpp"

namespace fedsaf {

namespace {

// Counts the bytes of the globals an algorithm checkpoints (its per-client states are the store's).
class GlobalBytes : public StateWriter {
 public:
  void global(const std::string& /*name*/, const torch::Tensor& value) override { bytes += value.nbytes(); }
  void per_client(const std::string&, int64_t, torch::ScalarType, const std::map<int64_t, torch::Tensor>&) override {}
  int64_t bytes = 0;
};

int64_t bytes_of(const torch::Tensor& t) { return t.defined() ? static_cast<int64_t>(t.nbytes()) : 0; }

// The run file a checkpoint starts from (io/SCHEMA.md): the partition (indices int32 where they
// fit, offsets, sizes, placement and label histogram per client), the per-client accuracy table
// ([E, N] float64, stored by whole chunks), and 96 KiB of config, attributes, per-round tables and
// HDF5 metadata (about 2 KiB per data set: a 3-round run of 12 clients measures 86 KiB for 38).
int64_t run_file_bytes(const Partition& p, int64_t samples, int64_t num_classes, int64_t evaluations) {
  int64_t indices = 0;
  for (const ClientSplit& c : p.clients) indices += static_cast<int64_t>(c.train.size() + c.test.size());
  const auto n = static_cast<int64_t>(p.clients.size());
  const int64_t index_bytes = samples <= INT32_MAX ? 4 : 8;
  const int64_t partition = indices * index_bytes + 2 * (n + 1) * index_bytes + n * (2 + 1 + num_classes) * 8;
  const int64_t rows = per_client_chunk_rows(n);
  const int64_t accuracy = (evaluations + rows - 1) / rows * rows * n * 8;
  return partition + accuracy + (int64_t{96} << 10);
}

// The algorithm initialised on s.context: the client state it declares, its globals, what the
// engine reduces for it, what its protocol sends, and whether it has an attention stage.
void read_algorithm(PlanSetup& s, const Config& config) {
  PlanInputs& in = s.inputs;
  AlgoContext& context = s.context;
  // The attention algorithms ask for their exchange in init(): which tells the plan they have one.
  context.make_exchange = [&s](PairwiseMode mode, PairwisePrecision precision) {
    s.inputs.pairwise = true;
    s.inputs.pairwise_precision_bytes = precision == PairwisePrecision::float64 ? 8 : 4;
    s.inputs.pairwise_block_bytes = BlockRing::kDefaultBlockBytes;  // make_exchange's blocks
    s.exchange_mode = mode;
    s.exchange_precision = precision;
    return std::unique_ptr<PairwiseExchange>();
  };
  s.algorithm = make_algorithm(config);
  s.algorithm->init(context);
  context.make_exchange = nullptr;  // captured `s` by reference: not to be called after this
  for (const RowDeclaration& d : context.states->row_declarations()) {
    PlanRowState row{d.name, d.numel * static_cast<int64_t>(c10::elementSize(d.dtype))};
    row.held_by_trained = d.held_by == RowsHeldBy::trained;
    row.held_by_mixed = !row.held_by_trained;
    in.mixes_evaluated = in.mixes_evaluated || d.held_by == RowsHeldBy::mixed_cohorts_and_evaluated;
    in.rows.push_back(row);
  }
  in.flag_states = context.states->flag_states();
  GlobalBytes globals;
  s.algorithm->save_state(globals);
  in.global_state_bytes = globals.bytes;
  // As cohort_reduction.cpp and evaluation_phase.cpp reduce them: float64 values, a weighted
  // mean with its Σ n; the round's 3 loss sums; at evaluations [3, N] per-client scores and the
  // AUC histogram's int64 counts.
  for (const Statistic& stat : s.algorithm->statistics())
    in.round_reduction_bytes += 8 * (stat.width + (stat.reduction == Reduction::weighted_mean ? 1 : 0));
  in.round_reduction_bytes += 3 * 8;
  in.eval_reduction_bytes = 3 * in.num_clients() * 8 + 2 * AucHistogram::kBins * 8;
  const ProtocolFloats floats = s.algorithm->protocol_floats();
  in.protocol_up = floats.up;
  in.protocol_down = floats.down;
}

}  // namespace

PlanSetup prepare_plan(const Config& config, int ranks) {
  if (ranks < 1) throw Error(fmt::format("--ranks {}: a run needs at least one rank", ranks));
  PlanSetup s;
  PlanInputs& in = s.inputs;
  const uint64_t seed = config.run.seed;
  s.data = load_dataset(config);  // whole: the ranks' generated parts joined are the same rows
  s.partition = make_partition(config.partition, seed, config.run.clients, s.data.labels(), s.data.groups(),
                               s.data.num_classes);
  const auto n = static_cast<int64_t>(s.partition.clients.size());
  if (ranks > n)
    throw Error(fmt::format("--ranks {}: more ranks than the run's {} clients (run.clients)", ranks, n));
  in.algorithm = config.run.algorithm;
  in.ranks = ranks;
  in.local_epochs = config.train.local_epochs;
  std::vector<bool> evaluated(static_cast<size_t>(n), false);
  for (int64_t c : draw_eval_clients(parse_eval_clients(config.run.eval_clients), seed, n))
    evaluated[static_cast<size_t>(c)] = true;
  for (int64_t c = 0; c < n; ++c) {
    const ClientSplit& split = s.partition.clients[static_cast<size_t>(c)];
    in.train_sizes.push_back(static_cast<int64_t>(split.train.size()));
    in.test_sizes.push_back(evaluated[static_cast<size_t>(c)] ? static_cast<int64_t>(split.test.size()) : 0);
  }
  const std::vector<double> costs = estimate_client_costs(
      in.train_sizes, in.test_sizes, {config.train.local_epochs, config.train.batch_size, config.run.eval_every});
  in.rank_of = place_by_cost(costs, ranks);
  for (int64_t t = 0; t <= config.run.rounds; ++t)
    in.cohorts.push_back(sample_cohort(seed, t, n, config.run.join_ratio));
  for (int64_t t = 0; t < config.run.rounds; ++t)
    in.evaluates.push_back(is_evaluation_round(t, config.run.eval_every, config.run.rounds));
  std::vector<int64_t> samples(static_cast<size_t>(ranks), 0);
  for (int64_t c = 0; c < n; ++c) samples[static_cast<size_t>(in.rank_of[static_cast<size_t>(c)])] += in.train_sizes[static_cast<size_t>(c)];
  s.busiest_rank = static_cast<int>(std::max_element(samples.begin(), samples.end()) - samples.begin());

  s.model = make_model(config.model, s.data.sample_shape(), s.data.num_classes, seed);
  in.params = s.model->num_params();
  s.context = model_context(config, *s.model, in.train_sizes, hosted_clients(in.rank_of, s.busiest_rank));
  read_algorithm(s, config);
  in.data_bytes = bytes_of(s.data.x) + bytes_of(s.data.y) + bytes_of(s.data.group);
  in.data_generated = config.data.dataset == "synthetic";
  in.run_file_bytes = run_file_bytes(s.partition, s.data.size(), s.data.num_classes,
                                     std::count(in.evaluates.begin(), in.evaluates.end(), true));
  return s;
}

}  // namespace fedsaf
