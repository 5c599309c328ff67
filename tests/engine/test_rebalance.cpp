// Re-placement between rounds (run.rebalance) at 1, 2 and 4 ranks: client state moves between
// ranks exactly (move_client_state); one rank made slower (FEDSAF_SLOW_RANK) loses work to the
// others, and every algorithm's results still agree with a single-rank run within 1e-5.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "algo/algorithm.hpp"
#include "algo/algorithm_state.hpp"
#include "core/config.hpp"
#include "io/h5.hpp"
#include "mpi/mpi_communicator.hpp"
#include "sim/engine.hpp"
#include "sim/move_client_state.hpp"
#include "sim/placement.hpp"
#include "tests/checkpoint/resume_support.hpp"  // SharedDir, run_into
#include "tests/engine/engine_test_support.hpp"

namespace fedsaf {
namespace {

using test::Reference;
using test::single_rank_reference;
using test::small_config;

// An algorithm that is only its state, kept in the client-state store as every algorithm's is:
// per client a float32 row (c, c + 0.5, c / 3), a flag for even clients, a zero-length row for
// every client; and a global of its own.
class StateOnly : public Algorithm {
 public:
  std::string name() const override { return "state-only"; }
  bool personalised() const override { return true; }
  void init(const AlgoContext& context) override {
    hosted = context.hosted;
    rows = &context.states->rows("rows", 3, torch::kFloat32);
    flags = &context.states->flags("flags");
    empty = &context.states->rows("empty", 0, torch::kFloat32);
  }
  void client_begin(int64_t, torch::Tensor&) override {}
  void server_step(const ServerStep&) override {}
  void eval_params(int64_t, torch::Tensor&) override {}
  ProtocolFloats protocol_floats() const override { return {0, 0}; }
  void fill() {
    for (int64_t c : hosted) {
      rows->put(c, torch::tensor({static_cast<float>(c), c + 0.5f, c / 3.0f}));  // [3]
      if (c % 2 == 0) flags->insert(c);
      empty->put(c, torch::empty({0}));  // [0]
    }
    global = torch::tensor({1.5, -2.0}, torch::kFloat64);  // [2]
  }
  void save_state(StateWriter& out) const override { out.global("global", global); }
  void load_state(StateReader& in) override { global = in.global("global"); }
  std::vector<int64_t> hosted;
  RowState* rows = nullptr;
  FlagState* flags = nullptr;
  RowState* empty = nullptr;
  torch::Tensor global;
};

TEST(MoveClientState, EveryRowArrivesExactlyAtItsNewRank) {
  MpiCommunicator world(MPI_COMM_WORLD);
  const int64_t clients = 11;
  std::vector<int> before, after;
  for (int64_t c = 0; c < clients; ++c) {
    before.push_back(static_cast<int>(c % world.size()));
    after.push_back(static_cast<int>((c * 7 + 3) % world.size()));  // most clients move
  }
  AlgoContext context;
  context.hosted = hosted_clients(before, world.rank());
  StateOnly old;
  old.init(context);
  old.fill();
  const MovedState moved = move_client_state(old, *context.states, after, world);

  AlgoContext fresh_context;  // a new store, as on a re-placement
  fresh_context.hosted = hosted_clients(after, world.rank());
  StateOnly fresh;
  fresh.init(fresh_context);
  load_algorithm_state(fresh, *fresh_context.states, fresh_context.hosted, *moved.state);
  ASSERT_EQ(fresh.rows->clients(), fresh_context.hosted);
  ASSERT_EQ(fresh.empty->clients(), fresh_context.hosted);
  int64_t arrived = 0;
  for (int64_t c : fresh_context.hosted) {
    EXPECT_TRUE(torch::equal(fresh.rows->get(c), torch::tensor({static_cast<float>(c), c + 0.5f, c / 3.0f}))) << c;
    EXPECT_EQ(fresh.flags->has(c), c % 2 == 0) << c;
    EXPECT_EQ(fresh.empty->get(c).numel(), 0) << c;
    if (before[static_cast<size_t>(c)] != world.rank()) ++arrived;
  }
  EXPECT_EQ(fresh.flags->clients().size(), static_cast<size_t>(std::count_if(
      fresh_context.hosted.begin(), fresh_context.hosted.end(), [](int64_t c) { return c % 2 == 0; })));
  EXPECT_TRUE(torch::equal(fresh.global, torch::tensor({1.5, -2.0}, torch::kFloat64)));
  // 3 float32 rows' bytes and one int64 flag for each even client that came from another rank.
  int64_t expected_bytes = 0;
  for (int64_t c : fresh_context.hosted)
    if (before[static_cast<size_t>(c)] != world.rank()) expected_bytes += 3 * 4 + (c % 2 == 0 ? 8 : 0);
  EXPECT_EQ(moved.bytes_received, expected_bytes);
  if (world.size() == 1) {
    EXPECT_EQ(arrived, 0);
  }
}

// Every client trains every round (the slow rank is slow in every round). 5 rounds: drifting in
// rounds 1 and 2, re-placed after round 2, then training on from the moved state. Longer runs
// drift apart from the one-rank run by float rounding alone (as at a fixed rank count: at lr 0.05
// fedsaf's loss after 8 rounds differs by ~1e-3 between 1 and 2 ranks here).
// Float64 attention: float32 distances depend on which rank computes which block, and after a few
// re-placements fedamp's loss here differed from one rank's by 1e-7 to 2e-6 in 5 rounds (once
// 4e-5); with float64 it was identical in every run.
Config rebalancing_config(const std::string& algorithm) {
  return small_config(algorithm, {"run.clients=8", "run.rounds=5", "run.join_ratio=1", "run.rebalance=0.05",
                                  "run.checkpoint_every=0", "attention.precision=float64"});
}

class Rebalance : public ::testing::TestWithParam<std::string> {};

TEST_P(Rebalance, ASlowRankLosesClientsAndResultsAgreeWithOneRank) {
  MpiCommunicator world(MPI_COMM_WORLD);
  if (world.size() == 1) GTEST_SKIP() << "re-placement needs 2 or more ranks";
  const Config config = rebalancing_config(GetParam());
  const Reference ref = single_rank_reference(config, world);

  const test::SharedDir dir(world);
  const int slow = world.size() - 1;
  setenv("FEDSAF_SLOW_RANK", (std::to_string(slow) + ":8").c_str(), 1);  // training takes 9× as long there
  const RunResult r = test::run_into(config, dir / "out", world);
  unsetenv("FEDSAF_SLOW_RANK");

  EXPECT_GE(r.replacements, 1) << "the slow rank never lost clients";
  EXPECT_EQ(r.cohort_history, ref.cohorts);
  ASSERT_EQ(r.evals.size(), ref.accuracy.size());
  for (size_t i = 0; i < r.evals.size(); ++i) {
    EXPECT_NEAR(r.evals[i].accuracy, ref.accuracy[i], 1e-5) << "evaluation " << i;
    EXPECT_NEAR(r.evals[i].loss, ref.loss[i], 1e-5) << "evaluation " << i;
  }
  ASSERT_EQ(r.final_params.size(), ref.params.size());
  double max_diff = 0;
  for (size_t i = 0; i < ref.params.size(); ++i)
    max_diff = std::max(max_diff, static_cast<double>(std::abs(r.final_params[i] - ref.params[i])));
  EXPECT_LE(max_diff, 1e-5);

  // Which clients move follows measured time; with more ranks than this machine's 2 cores, ranks
  // spinning in collectives slow the others at random, so only 2 ranks check where work went.
  if (world.rank() == 0 && r.replacements > 0 && world.size() == 2) {
    // The run file keeps every re-placement; the slow rank ends with less estimated work than it
    // started with.
    h5::File file = h5::File::open(dir / "out/run.h5", h5::Mode::kRead);
    const std::vector<int64_t> start = file.open_dataset("partition/placement").read<int64_t>();
    const std::vector<int64_t> rounds = file.open_dataset("partition/replacements/round").read<int64_t>();
    const std::vector<int64_t> placements = file.open_dataset("partition/replacements/placement").read<int64_t>();
    const std::vector<int64_t> sizes = file.open_dataset("partition/sizes").read<int64_t>();  // [N, 2]
    ASSERT_EQ(static_cast<int64_t>(rounds.size()), r.replacements);
    ASSERT_EQ(placements.size(), rounds.size() * start.size());
    std::vector<int64_t> train, test;
    for (size_t c = 0; c < start.size(); ++c) train.push_back(sizes[2 * c]), test.push_back(sizes[2 * c + 1]);
    const std::vector<double> costs =
        estimate_client_costs(train, test, {config.train.local_epochs, config.train.batch_size, config.run.eval_every});
    const auto work_on_slow = [&](const int64_t* place) {
      double work = 0;
      for (size_t c = 0; c < start.size(); ++c) work += place[c] == slow ? costs[c] : 0.0;
      return work;
    };
    EXPECT_LT(work_on_slow(placements.data() + placements.size() - start.size()), work_on_slow(start.data()));
  }
}

INSTANTIATE_TEST_SUITE_P(Algorithms, Rebalance,
                         ::testing::Values("local", "fedavg", "fedprox", "fedper", "fedamp", "fedsaf", "fedavgm"));

}  // namespace
}  // namespace fedsaf
