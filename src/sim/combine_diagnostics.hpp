#pragma once
// Combines every rank's diagnostics of a round (core/diagnostics.hpp) into what the run file
// stores: scalars by their Across rule, part statistics into mean and max, client rows into the
// whole N × width table.
#include <cstdint>

#include "core/diagnostics.hpp"

namespace fedsaf {

class Communicator;

// Collective: every rank passes the same diagnostics in the same order (values differ); afterwards
// every rank holds the combined values. num_clients: N, the rows of each ClientRows table.
void combine_diagnostics(Diagnostics& diagnostics, int64_t num_clients, Communicator& comm);

}  // namespace fedsaf
