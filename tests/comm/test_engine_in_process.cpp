// The whole round loop on in-process ranks (no mpirun): 3 ranks give the accuracies (within 1e-5)
// and cohorts of 1 rank. Torch runs at one thread (torch::set_num_threads is process-wide).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "mpi/in_process_communicator.hpp"
#include "sim/engine.hpp"
#include "tests/engine/engine_test_support.hpp"

namespace fedsaf {
namespace {

// Every rank's result, rank 0 first.
std::vector<RunResult> run_on(int ranks, const Config& config) {
  std::vector<RunResult> results(static_cast<size_t>(ranks));
  run_in_process(ranks, [&](Communicator& comm) {
    results[static_cast<size_t>(comm.rank())] = test::run_quiet(config, comm);  // no run file, no checkpoints
  });
  return results;
}

class EngineInProcess : public ::testing::TestWithParam<std::string> {};

TEST_P(EngineInProcess, ThreeRanksAgreeWithOneWithin1e5) {
  const Config config = test::small_config(GetParam(), {"run.threads_per_rank=1"});
  const RunResult one = run_on(1, config)[0];
  ASSERT_FALSE(one.evals.empty());
  for (const RunResult& r : run_on(3, config)) {
    ASSERT_EQ(r.evals.size(), one.evals.size());
    for (size_t i = 0; i < r.evals.size(); ++i) {
      EXPECT_NEAR(r.evals[i].accuracy, one.evals[i].accuracy, 1e-5) << "evaluation " << i;
      EXPECT_NEAR(r.evals[i].loss, one.evals[i].loss, 1e-5) << "evaluation " << i;
    }
    EXPECT_EQ(r.cohort_history, one.cohort_history);
  }
}

INSTANTIATE_TEST_SUITE_P(Algorithms, EngineInProcess, ::testing::Values("fedavg", "fedsaf"));

}  // namespace
}  // namespace fedsaf
