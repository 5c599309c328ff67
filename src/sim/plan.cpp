#include "sim/plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <utility>

namespace fedsaf {

namespace {

constexpr int64_t kRowIdBytes = 8;                // a checkpoint keeps an int64 client id beside each row
constexpr int64_t kStateMetadataBytes = 4 << 10;  // per client state: its two data sets' HDF5 headers

// One attention step (fedamp's mix before a cohort trains, fedsaf's after the round before):
// the listed clients get a mix from every held upload.
struct AttentionStep {
  std::vector<double> seconds;   // [R]
  std::vector<int64_t> bytes;    // [R] received (≈ sent: the ring passes every block on)
  std::vector<int64_t> memory;   // [R] the stage's buffers
};

// held: [N] whether a client has uploaded; rows: the clients mixed (ascending, unique).
AttentionStep attention_step(const PlanInputs& in, const PlanRates& rates, const std::vector<char>& held,
                             const std::vector<int64_t>& rows) {
  const int ranks = in.ranks;
  const int64_t d = in.protocol_down;                       // width of a held upload
  const int64_t w = in.fisher_weighted_uploads() ? 2 : 1;  // × 2: each upload with its Fisher weights
  const int64_t p = in.pairwise_precision_bytes;
  std::vector<int64_t> m(static_cast<size_t>(ranks), 0), k(m), k_trained(m), k_untrained(m);
  for (int64_t c = 0; c < in.num_clients(); ++c)
    if (held[static_cast<size_t>(c)]) ++m[static_cast<size_t>(in.rank_of[static_cast<size_t>(c)])];
  int64_t columns = std::accumulate(m.begin(), m.end(), int64_t{0});  // C: the held uploads and the rows' own
  const int64_t held_total = columns;
  for (int64_t c : rows) {
    const auto r = static_cast<size_t>(in.rank_of[static_cast<size_t>(c)]);
    ++k[r];
    if (held[static_cast<size_t>(c)]) {
      ++k_trained[r];
    } else {
      ++k_untrained[r];
      ++columns;
    }
  }
  const int64_t block = std::min(std::max<int64_t>(in.pairwise_block_bytes / std::max<int64_t>(d * 4, 1), 1),
                                 std::max<int64_t>(*std::max_element(m.begin(), m.end()), 1));
  AttentionStep step;
  for (size_t r = 0; r < static_cast<size_t>(ranks); ++r) {
    // Rows of clients that never trained are one row (shared_rows.hpp): k' = trained rows + 1.
    const int64_t distinct = k_trained[r] + (k_untrained[r] > 0 ? 1 : 0);
    const double flops = attention_flops(distinct, held_total, d, w == 2);  // columns without an upload cost no GEMM
    const int64_t received = (held_total - m[r]) * d * 4 * (1 + w);  // pass 1: uploads; pass 2: with weights
    const int64_t gathered = (m[r] + k[r]) * d * 4 * w;             // this rank's uploads and rows, gathered
    step.seconds.push_back(flops / rates.attention_flops_per_second +
                           static_cast<double>(gathered) / rates.held_bytes_per_second +
                           static_cast<double>(received) / rates.copy_bytes_per_second);
    step.bytes.push_back(received);
    step.memory.push_back(m[r] * d * 4 * w                  // the held uploads gathered
                          + k[r] * d * 4 * w                // the rows' queries (and their weights)
                          + 2 * block * d * 4 * w           // the ring's two receive buffers
                          + 2 * block * d * p               // per-block temporaries
                          + 3 * distinct * columns * 8      // distances, cosines, ξ (float64)
                          + 2 * distinct * d * p            // the mix's numerator and denominator
                          + k[r] * d * 4);                  // the mixes
  }
  return step;
}

std::vector<int64_t> sorted_unique(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// Who holds which state as the rounds are replayed: [N] each.
struct Holders {
  std::vector<char> trained, mixed;
};

// The clients mixed for in the attention step after round t: fedsaf mixes the next cohort (and the
// evaluated clients when it evaluates, the next cohort then even after the last round); fedamp
// mixes the next cohort as that round starts (none after the last). Ascending.
std::vector<int64_t> mixed_after(const PlanInputs& in, int64_t t, bool mixes_ahead, const std::vector<int64_t>& evaluated) {
  const bool last = t + 1 == in.rounds();
  const bool eval_mix = in.mixes_evaluated && in.evaluates[static_cast<size_t>(t)];
  std::vector<int64_t> rows;
  if (!last || (mixes_ahead && eval_mix)) rows = in.cohorts[static_cast<size_t>(t + 1)];
  if (eval_mix) rows.insert(rows.end(), evaluated.begin(), evaluated.end());
  if (!mixes_ahead && last) rows.clear();
  return sorted_unique(rows);
}

// Replays the rounds: seconds and bytes per round, the attention stage's memory, and who comes to
// hold state.
Holders replay_rounds(const PlanInputs& in, const PlanRates& rates, RunPlan& plan) {
  const auto ranks = static_cast<size_t>(in.ranks);
  std::vector<int64_t> evaluated;
  for (int64_t c = 0; c < in.num_clients(); ++c)
    if (in.test_sizes[static_cast<size_t>(c)] > 0) evaluated.push_back(c);
  // Mixes kept as client state are computed after a round for the next (fedsaf); otherwise the
  // mix is computed as the round starts (fedamp).
  const bool mixes_ahead = std::any_of(in.rows.begin(), in.rows.end(), [](const PlanRowState& s) { return s.held_by_mixed; });
  Holders holders{std::vector<char>(static_cast<size_t>(in.num_clients()), 0),
                  std::vector<char>(static_cast<size_t>(in.num_clients()), 0)};
  auto rank = [&](int64_t c) { return static_cast<size_t>(in.rank_of[static_cast<size_t>(c)]); };
  std::vector<double> attention_before(ranks, 0.0);  // fedamp: mixed as the round starts
  double train_sum = 0;
  int64_t train_rounds = 0;
  for (int64_t t = 0; t < in.rounds(); ++t) {
    const bool evaluates = in.evaluates[static_cast<size_t>(t)];
    const std::vector<int64_t>& cohort = in.cohorts[static_cast<size_t>(t)];
    std::vector<double> seconds = std::exchange(attention_before, std::vector<double>(ranks, 0.0));
    std::vector<int64_t> bytes(ranks, in.round_reduction_bytes + (evaluates ? in.eval_reduction_bytes : 0));
    for (int64_t c : cohort) {
      seconds[rank(c)] += static_cast<double>(in.local_epochs * in.train_sizes[static_cast<size_t>(c)]) *
                          rates.train_seconds_per_sample;
      holders.trained[static_cast<size_t>(c)] = 1;
    }
    if (evaluates)
      for (int64_t c : evaluated)
        seconds[rank(c)] += static_cast<double>(in.test_sizes[static_cast<size_t>(c)]) * rates.eval_seconds_per_sample;
    const auto cohort_size = static_cast<int64_t>(cohort.size());
    plan.protocol_bytes_up = std::max(plan.protocol_bytes_up, cohort_size * in.protocol_up * 4);
    plan.protocol_bytes_down = std::max(plan.protocol_bytes_down, cohort_size * in.protocol_down * 4);
    const std::vector<int64_t> rows = in.pairwise ? mixed_after(in, t, mixes_ahead, evaluated) : std::vector<int64_t>{};
    if (!rows.empty()) {
      const AttentionStep step = attention_step(in, rates, holders.trained, rows);
      for (size_t r = 0; r < ranks; ++r) {
        (mixes_ahead ? seconds[r] : attention_before[r]) += step.seconds[r];
        bytes[r] += step.bytes[r];
        plan.ranks[r].attention_bytes = std::max(plan.ranks[r].attention_bytes, step.memory[r]);
      }
      plan.attention_seconds = std::max(plan.attention_seconds, *std::max_element(step.seconds.begin(), step.seconds.end()));
      for (int64_t c : rows) holders.mixed[static_cast<size_t>(c)] = 1;
    }
    const double round_seconds = *std::max_element(seconds.begin(), seconds.end());  // ranks end a round together
    plan.run_seconds += round_seconds;
    if (evaluates) {
      plan.eval_round_seconds = std::max(plan.eval_round_seconds, round_seconds);
    } else {
      train_sum += round_seconds;
      ++train_rounds;
    }
    for (size_t r = 0; r < ranks; ++r)
      plan.ranks[r].bytes_sent_per_round = std::max(plan.ranks[r].bytes_sent_per_round, bytes[r]);
  }
  plan.train_round_seconds = train_rounds > 0 ? train_sum / static_cast<double>(train_rounds) : plan.eval_round_seconds;
  return holders;
}

// Client state at the end of the run (it only grows) per rank, and the checkpoint holding it.
void count_state(const PlanInputs& in, const Holders& holders, RunPlan& plan) {
  int64_t trained_total = 0;
  for (char t : holders.trained) trained_total += t;
  plan.checkpoint_bytes = in.run_file_bytes + in.global_state_bytes + in.flag_states * trained_total * (kRowIdBytes + 8) +
                          (static_cast<int64_t>(in.rows.size()) + in.flag_states) * kStateMetadataBytes;
  for (size_t c = 0; c < static_cast<size_t>(in.num_clients()); ++c) {
    RankPlan& r = plan.ranks[static_cast<size_t>(in.rank_of[c])];
    ++r.clients;
    r.train_samples += in.train_sizes[c];
    for (const PlanRowState& s : in.rows) {
      if (!(s.held_by_trained && holders.trained[c]) && !(s.held_by_mixed && holders.mixed[c])) continue;
      r.state_bytes += s.bytes;
      plan.checkpoint_bytes += s.bytes + kRowIdBytes;
    }
  }
}

// Each rank's state over the tiers, its peak, and a warning where it exceeds its node share.
void place_memory(const PlanInputs& in, const PlanMachine& machine, const PlanRates& rates, RunPlan& plan) {
  const int64_t share = machine.node_memory_bytes / std::max(machine.ranks_per_node, 1);
  for (size_t i = 0; i < plan.ranks.size(); ++i) {
    RankPlan& r = plan.ranks[i];
    r.state_device_bytes = machine.device_budget_bytes < 0 ? r.state_bytes : std::min(r.state_bytes, machine.device_budget_bytes);
    const int64_t rest = r.state_bytes - r.state_device_bytes;
    r.state_host_bytes = machine.disk_tier && machine.host_budget_bytes >= 0 ? std::min(rest, machine.host_budget_bytes) : rest;
    r.state_disk_bytes = rest - r.state_host_bytes;
    // A generated data set's part is held only while the parts are joined, before round 1: it
    // adds to the peak only where it exceeds what the rounds hold beside the data.
    const int64_t generated_part = in.data_generated ? in.data_bytes / in.ranks : 0;
    r.data_bytes = in.data_bytes + generated_part;
    const int64_t state_in_host = r.state_host_bytes + (machine.gpu ? 0 : r.state_device_bytes);
    r.peak_bytes = rates.baseline_bytes + in.data_bytes + std::max(generated_part, state_in_host + r.attention_bytes);
    if (share > 0 && r.peak_bytes > share)
      plan.warnings.push_back(fmt::format(
          "rank {} needs {:.2f} GB at its peak, more than its share of a node's available memory ({:.2f} GB "
          "for {} rank(s) per node): it will not fit{}",
          i, static_cast<double>(r.peak_bytes) / 1e9, static_cast<double>(share) / 1e9, machine.ranks_per_node,
          r.state_bytes > 0 && !machine.disk_tier ? "; set run.state_dir (the disk tier) or use more ranks"
                                                  : "; use more ranks or nodes"));
  }
}

}  // namespace

RunPlan plan_run(const PlanInputs& in, const PlanMachine& machine, const PlanRates& rates) {
  RunPlan plan;
  plan.ranks.resize(static_cast<size_t>(in.ranks));
  const Holders holders = replay_rounds(in, rates, plan);
  count_state(in, holders, plan);
  place_memory(in, machine, rates, plan);
  return plan;
}

}  // namespace fedsaf
