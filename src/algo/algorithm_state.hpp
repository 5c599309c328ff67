#pragma once
// What a checkpoint, a resume and a re-placement carry of an algorithm: every client state it
// declared (the store's, client_state_store.hpp), then its own globals (Algorithm::save_state).
// Both collective: every rank makes the same calls in the same order.
#include <cstdint>
#include <vector>

#include "algo/algorithm.hpp"

namespace fedsaf {

void save_algorithm_state(const Algorithm& algorithm, const ClientStateStore& states, StateWriter& out);
// After algorithm.init(): the saved rows of the `hosted` clients, then the globals.
void load_algorithm_state(Algorithm& algorithm, ClientStateStore& states, const std::vector<int64_t>& hosted,
                          StateReader& in);

}  // namespace fedsaf
