#pragma once
// Which rank hosts which client, and which clients join a round. Both are pure functions of the
// config (and the round), computed identically on every rank: no coordinator. Re-placement from
// measured rank speeds is src/sim/rebalance.hpp.
#include <cstdint>
#include <vector>

namespace fedsaf {

// What a client costs a rank per round, estimated before anything ran.
struct CostRule {
  int64_t epochs = 1;
  int64_t batch_size = 10;
  int64_t eval_every = 1;  // the client's test split is evaluated every this many rounds
};

// The rule's per-round cost of each client in training-sample equivalents (one sample's forward
// and backward = 1; the model's per-sample cost is common to every client, so it cancels):
//   epochs · (n + kStepOverhead · ⌈n / batch⌉) + eval_cost(test) / eval_every + kClientOverhead
std::vector<double> estimate_client_costs(const std::vector<int64_t>& train_sizes,
                                          const std::vector<int64_t>& test_sizes, const CostRule& rule);
// A forward alone is a third of a training sample's arithmetic.
inline double eval_cost(int64_t test_samples) { return static_cast<double>(test_samples) / 3.0; }
// Per SGD step, in samples: a batch-10 CNN step costs 1.2× a batch-64 step per sample
// (bench_cnn_step), i.e. a fixed ≈ 2.5 samples per step for kernel launches and the optimizer.
inline constexpr double kStepOverhead = 2.5;
// Per client and round, in samples: loading its model, the algorithm's client hooks, its share of
// the average; about two batch-10 steps.
inline constexpr double kClientOverhead = 25.0;

// Greedy longest-processing-time placement: clients by cost, largest first (ties: lower id), each
// to the rank that would finish it first, (load + cost) / speed (ties: lower rank). speeds: [R]
// relative rank speeds (empty: every rank alike). Returns rank_of[client].
std::vector<int> place_by_cost(const std::vector<double>& costs, int world_size, const std::vector<double>& speeds = {});
// The slowest rank's predicted time, max over r of Σ_{rank_of[c] = r} cost_c / speed_r.
double predicted_makespan(const std::vector<double>& costs, const std::vector<int>& rank_of,
                          const std::vector<double>& speeds);
// The clients a rank hosts, ascending.
std::vector<int64_t> hosted_clients(const std::vector<int>& rank_of, int rank);
// Round t's cohort: max(1, ⌊N·join_ratio⌋) clients drawn without replacement from the stream
// (seed, cohort, t), ascending.
std::vector<int64_t> sample_cohort(uint64_t seed, int64_t round, int64_t num_clients, double join_ratio);
// Whether round t (0-based) of `rounds` evaluates: every eval_every-th round, and the last.
inline bool is_evaluation_round(int64_t round, int64_t eval_every, int64_t rounds) {
  return (round + 1) % eval_every == 0 || round + 1 == rounds;
}

}  // namespace fedsaf
