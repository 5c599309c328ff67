#include "sim/plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

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
  const int64_t w = in.protocol_up >= 2 * d ? 2 : 1;        // × 2: each upload with its Fisher weights
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

}  // namespace

RunPlan plan_run(const PlanInputs& in, const PlanMachine& machine, const PlanRates& rates) {
  const int ranks = in.ranks;
  const auto n = static_cast<size_t>(in.num_clients());
  const int64_t rounds = in.rounds();
  std::vector<int64_t> evaluated;
  for (size_t c = 0; c < n; ++c)
    if (in.test_sizes[c] > 0) evaluated.push_back(static_cast<int64_t>(c));
  // Mixes kept as client state are computed after a round for the next (fedsaf); otherwise the
  // mix is computed as the round starts (fedamp).
  const bool mixes_ahead = std::any_of(in.rows.begin(), in.rows.end(), [](const PlanRowState& s) { return s.held_by_mixed; });

  RunPlan plan;
  plan.ranks.resize(static_cast<size_t>(ranks));
  for (size_t c = 0; c < n; ++c) {
    RankPlan& r = plan.ranks[static_cast<size_t>(in.rank_of[c])];
    ++r.clients;
    r.train_samples += in.train_sizes[c];
  }
  std::vector<char> trained(n, 0), mixed(n, 0);
  std::vector<double> attention_before(static_cast<size_t>(ranks), 0.0);  // fedamp: mixed as the round starts
  double train_sum = 0, max_attention = 0;
  int64_t train_rounds = 0;
  for (int64_t t = 0; t < rounds; ++t) {
    const std::vector<int64_t>& cohort = in.cohorts[static_cast<size_t>(t)];
    std::vector<double> seconds = attention_before;
    std::vector<int64_t> bytes(static_cast<size_t>(ranks),
                               in.round_reduction_bytes + (in.evaluates[static_cast<size_t>(t)] ? in.eval_reduction_bytes : 0));
    std::fill(attention_before.begin(), attention_before.end(), 0.0);
    for (int64_t c : cohort) {
      seconds[static_cast<size_t>(in.rank_of[static_cast<size_t>(c)])] +=
          static_cast<double>(in.local_epochs * in.train_sizes[static_cast<size_t>(c)]) * rates.train_seconds_per_sample;
      trained[static_cast<size_t>(c)] = 1;
    }
    if (in.evaluates[static_cast<size_t>(t)])
      for (int64_t c : evaluated)
        seconds[static_cast<size_t>(in.rank_of[static_cast<size_t>(c)])] +=
            static_cast<double>(in.test_sizes[static_cast<size_t>(c)]) * rates.eval_seconds_per_sample;
    plan.protocol_bytes_up = std::max(plan.protocol_bytes_up, static_cast<int64_t>(cohort.size()) * in.protocol_up * 4);
    plan.protocol_bytes_down =
        std::max(plan.protocol_bytes_down, static_cast<int64_t>(cohort.size()) * in.protocol_down * 4);
    // The attention step after this round's training: fedsaf mixes the next cohort (and the
    // evaluated clients when it evaluates); fedamp mixes the next cohort as that round starts.
    if (in.pairwise) {
      const bool last = t + 1 == rounds;
      const bool eval_mix = in.mixes_evaluated && in.evaluates[static_cast<size_t>(t)];
      std::vector<int64_t> rows;
      if (!last || (mixes_ahead && eval_mix)) rows = in.cohorts[static_cast<size_t>(t + 1)];
      if (eval_mix) rows.insert(rows.end(), evaluated.begin(), evaluated.end());
      rows = sorted_unique(rows);
      if (!mixes_ahead && last) rows.clear();  // fedamp: no round follows the last
      if (!rows.empty()) {
        const AttentionStep step = attention_step(in, rates, trained, rows);
        for (size_t r = 0; r < static_cast<size_t>(ranks); ++r) {
          (mixes_ahead ? seconds[r] : attention_before[r]) += step.seconds[r];
          bytes[r] += step.bytes[r];
          plan.ranks[r].attention_bytes = std::max(plan.ranks[r].attention_bytes, step.memory[r]);
        }
        max_attention = std::max(max_attention, *std::max_element(step.seconds.begin(), step.seconds.end()));
        for (int64_t c : rows) mixed[static_cast<size_t>(c)] = 1;
      }
    }
    const double round_seconds = *std::max_element(seconds.begin(), seconds.end());
    plan.run_seconds += round_seconds;
    if (in.evaluates[static_cast<size_t>(t)]) {
      plan.eval_round_seconds = std::max(plan.eval_round_seconds, round_seconds);
    } else {
      train_sum += round_seconds;
      ++train_rounds;
    }
    for (size_t r = 0; r < static_cast<size_t>(ranks); ++r)
      plan.ranks[r].bytes_sent_per_round = std::max(plan.ranks[r].bytes_sent_per_round, bytes[r]);
  }
  plan.train_round_seconds = train_rounds > 0 ? train_sum / static_cast<double>(train_rounds) : plan.eval_round_seconds;
  plan.attention_seconds = max_attention;

  // Client state at the end of the run (it only grows), its tiers, and the checkpoint.
  int64_t trained_total = 0;
  for (size_t c = 0; c < n; ++c) trained_total += trained[c];
  plan.checkpoint_bytes = in.run_file_bytes + in.global_state_bytes + in.flag_states * trained_total * (kRowIdBytes + 8) +
                          (static_cast<int64_t>(in.rows.size()) + in.flag_states) * kStateMetadataBytes;
  for (size_t c = 0; c < n; ++c) {
    RankPlan& r = plan.ranks[static_cast<size_t>(in.rank_of[c])];
    for (const PlanRowState& s : in.rows) {
      if (!(s.held_by_trained && trained[c]) && !(s.held_by_mixed && mixed[c])) continue;
      r.state_bytes += s.bytes;
      plan.checkpoint_bytes += s.bytes + kRowIdBytes;
    }
  }
  const int64_t budget_share = machine.node_memory_bytes / std::max(machine.ranks_per_node, 1);
  for (size_t i = 0; i < plan.ranks.size(); ++i) {
    RankPlan& r = plan.ranks[i];
    r.state_device_bytes = machine.device_budget_bytes < 0 ? r.state_bytes : std::min(r.state_bytes, machine.device_budget_bytes);
    const int64_t rest = r.state_bytes - r.state_device_bytes;
    r.state_host_bytes = machine.disk_tier && machine.host_budget_bytes >= 0 ? std::min(rest, machine.host_budget_bytes) : rest;
    r.state_disk_bytes = rest - r.state_host_bytes;
    // A generated data set's part is held only while the parts are joined, before round 1: it
    // adds to the peak only where it exceeds what the rounds hold beside the data.
    const int64_t generated_part = in.data_generated ? in.data_bytes / ranks : 0;
    r.data_bytes = in.data_bytes + generated_part;
    const int64_t state_in_host = r.state_host_bytes + (machine.gpu ? 0 : r.state_device_bytes);
    r.peak_bytes = rates.baseline_bytes + in.data_bytes + std::max(generated_part, state_in_host + r.attention_bytes);
    if (budget_share > 0 && r.peak_bytes > budget_share)
      plan.warnings.push_back(fmt::format(
          "rank {} needs {:.2f} GB at its peak, more than its share of a node's available memory ({:.2f} GB "
          "for {} rank(s) per node): it will not fit{}",
          i, static_cast<double>(r.peak_bytes) / 1e9, static_cast<double>(budget_share) / 1e9, machine.ranks_per_node,
          r.state_bytes > 0 && !machine.disk_tier ? "; set run.state_dir (the disk tier) or use more ranks" : "; use more ranks or nodes"));
  }
  return plan;
}

}  // namespace fedsaf
