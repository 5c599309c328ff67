// fedsaf: no-torch
// The error-path helpers of mpi/environment.hpp, at every rank count. The aborting path (fatal)
// cannot run inside this executable: tests/mpi/fault_check.sh runs it in its own mpirun.
#include <gtest/gtest.h>
#include <mpi.h>

#include <string>

#include "mpi/environment.hpp"

namespace fedsaf {
namespace {

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int world_size() {
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

TEST(Environment, AlreadyInitialisedIsSafe) {
  Environment again;  // MPI is running (the test main made it): must neither init nor finalise
  EXPECT_FALSE(again.owns_mpi());
  EXPECT_EQ(again.rank(), world_rank());
  EXPECT_EQ(again.size(), world_size());
  EXPECT_GE(again.local_rank(), 0);
  EXPECT_LT(again.local_rank(), again.local_size());
  EXPECT_LE(again.local_size(), again.size());
  EXPECT_GE(again.thread_level(), MPI_THREAD_FUNNELED);
}

TEST(Environment, AnyRankFailedIsALogicalOr) {
  EXPECT_FALSE(any_rank_failed(false));
  EXPECT_TRUE(any_rank_failed(world_rank() == world_size() - 1));  // only the last rank fails
  EXPECT_TRUE(any_rank_failed(true));
}

TEST(Environment, ThrowIfAnyFailedPassesWhenAllAreFine) { EXPECT_NO_THROW(throw_if_any_failed("")); }

TEST(Environment, OneFailingRankReachesEveryRankWithItsRank) {
  const int last = world_size() - 1;
  const std::string mine = world_rank() == last ? "data/clients.h5: client 3 has no samples" : "";
  try {
    throw_if_any_failed(mine);
    ADD_FAILURE() << "expected AgreedError";
  } catch (const AgreedError& e) {
    const std::string expected = world_size() > 1 ? "rank " + std::to_string(last) + ": data/clients.h5: client 3 has no samples"
                                                  : "data/clients.h5: client 3 has no samples";
    EXPECT_EQ(e.what(), expected);
  }
}

TEST(Environment, AgreedErrorSeenByAllRanksHasNoRankPrefix) {
  try {
    agreed([] { throw ConfigError("config.toml: run.rounds must be positive, got -3"); });
    ADD_FAILURE() << "expected AgreedError";
  } catch (const AgreedError& e) {
    EXPECT_STREQ(e.what(), "config.toml: run.rounds must be positive, got -3");
  }
  EXPECT_NO_THROW(agreed([] {}));
}

TEST(Environment, RunGuardedTurnsAgreedErrorsIntoStatusOne) {
  testing::internal::CaptureStderr();
  const int status = run_guarded([]() -> int { throw AgreedError("bad input"); });
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(status, 1);
  // Printed once, by rank 0 only.
  EXPECT_EQ(err, world_rank() == 0 ? "fedsaf: error: bad input\n" : "");
  EXPECT_EQ(run_guarded([] { return 7; }), 7);
}

TEST(Environment, CheckMpiNamesTheOperationAndMpiText) {
  try {
    check_mpi(MPI_ERR_COUNT, "allreduce_sum", "MPI_Allreduce");
    ADD_FAILURE() << "expected MpiError";
  } catch (const MpiError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("allreduce_sum: MPI_Allreduce failed: ", 0), 0u) << what;
    EXPECT_GT(what.size(), std::string("allreduce_sum: MPI_Allreduce failed: ").size()) << what;
  }
  EXPECT_NO_THROW(check_mpi(MPI_SUCCESS, "x", "y"));
}

}  // namespace
}  // namespace fedsaf
