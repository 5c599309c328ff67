#pragma once
// What `fedsaf plan` reads from a config, exactly as a run of `ranks` ranks would build it: the
// data set (loaded once, whole), the partition, the placement, the cohorts, the model, and the
// algorithm initialised on a store without memory tiers, to list the client state it declares.
#include <torch/torch.h>

#include <memory>

#include "algo/algorithm.hpp"
#include "algo/pairwise.hpp"
#include "core/config.hpp"
#include "data/dataset.hpp"
#include "data/partition.hpp"
#include "model/model.hpp"
#include "sim/plan.hpp"

namespace fedsaf {

struct PlanSetup {
  PlanInputs inputs;
  Dataset data;
  Partition partition;
  std::unique_ptr<FlatModel> model;
  AlgoContext context;  // hosted: the busiest rank's clients (the calibration trains some of them)
  std::unique_ptr<Algorithm> algorithm;
  int busiest_rank = 0;  // hosting the most training samples
  // The exchange the algorithm asked for in init() (inputs.pairwise), for the calibration.
  PairwiseMode exchange_mode{};
  PairwisePrecision exchange_precision{};
};

// Error when ranks < 1 or more than the clients.
PlanSetup prepare_plan(const Config& config, int ranks);

}  // namespace fedsaf
