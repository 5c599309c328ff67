#pragma once
// The rates `fedsaf plan` turns its counts into seconds and bytes with, measured on this machine
// at run.threads_per_rank threads: a few of the busiest rank's clients trained (round 0, through
// the algorithm's hooks: fedsaf's Fisher pass included; together where the run would train them
// together, train.client_group) and evaluated, one core's float32 GEMM and
// memory copy, and this process's resident memory without the data set.
#include <cstdint>

#include "core/config.hpp"
#include "sim/plan.hpp"
#include "sim/plan_inputs.hpp"

namespace fedsaf {

// clients: how many of the busiest rank's clients to train at least (one whole group at least).
PlanRates calibrate_plan(PlanSetup& setup, const Config& config, int64_t clients);

}  // namespace fedsaf
