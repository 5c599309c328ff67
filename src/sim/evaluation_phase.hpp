#pragma once
// The evaluation phase: every client of run.eval_clients hosted by this rank on its own test split,
// with the model the algorithm evaluates it with; the counts all-reduced into the round's
// evaluation record (NaN accuracy for the clients not evaluated).
#include "io/run_records.hpp"

namespace fedsaf {

struct Round;
struct RunServices;

// Collective. Adds its seconds to round.record.timing (eval_seconds, comm_seconds).
EvalRecord evaluate_hosted_clients(RunServices& run, Round& round);

}  // namespace fedsaf
