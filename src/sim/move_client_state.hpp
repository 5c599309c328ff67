#pragma once
// Moving clients between ranks in the middle of a run (src/sim/rebalance.hpp): the algorithm's
// state, as its checkpoint would hold it (src/algo/state.hpp), passed through memory instead of a
// file. The algorithm is then rebuilt on every rank for its new clients and reads this state back,
// exactly as a resume on another rank count does.
#include <memory>
#include <vector>

#include "algo/state.hpp"

namespace fedsaf {

class Algorithm;
class ClientStateStore;
class Communicator;

struct MovedState {
  std::unique_ptr<StateReader> state;  // the algorithm's globals and the rows of this rank's new clients
  int64_t bytes_received = 0;          // rows that came from other ranks
};

// Collective: saves every client state of `states` and the algorithm's globals; each client's rows
// go from the rank that holds them to its rank in new_rank_of (rows that stay are not copied).
MovedState move_client_state(const Algorithm& algorithm, const ClientStateStore& states,
                             const std::vector<int>& new_rank_of, Communicator& comm);

}  // namespace fedsaf
