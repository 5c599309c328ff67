#pragma once
// Which rank hosts which client, and which clients join a round. Both are pure functions of the
// config (and the round), computed identically on every rank: no coordinator.
#include <cstdint>
#include <vector>

namespace fedsaf {

// Greedy size-balanced assignment: clients by training-set size, largest first (ties: lower id),
// each to the currently least-loaded rank (ties: lower rank). Returns rank_of[client].
std::vector<int> place_clients(const std::vector<int64_t>& train_sizes, int world_size);
// The clients a rank hosts, ascending.
std::vector<int64_t> hosted_clients(const std::vector<int>& rank_of, int rank);
// Round t's cohort: max(1, ⌊N·join_ratio⌋) clients drawn without replacement from the stream
// (seed, cohort, t), ascending.
std::vector<int64_t> sample_cohort(uint64_t seed, int64_t round, int64_t num_clients, double join_ratio);

}  // namespace fedsaf
