// A rank (thread) that throws, or returns early, must not leave the others waiting forever: the
// group breaks, every waiting call throws, and run_in_process rethrows the first error.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "mpi/in_process_communicator.hpp"
#include "mpi/mpi_communicator.hpp"
#include "tests/comm/comm_test_support.hpp"

namespace fedsaf {
namespace {

using test::error_of;

TEST(InProcessPoison, AThrowingRankEndsEveryCollectiveAndItsErrorComesBack) {
  std::atomic<int> abandoned{0};
  const std::string error = error_of([&] {
    run_in_process(4, [&](Communicator& c) {
      if (c.rank() == 2) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the others are waiting by now
        throw Error("rank two gives up");
      }
      try {
        c.allreduce_sum(torch::zeros({3}));
      } catch (const Error& e) {
        if (std::string(e.what()).find("rank 2 failed: rank two gives up") != std::string::npos) ++abandoned;
        throw;
      }
    });
  });
  EXPECT_EQ(error, "rank two gives up");  // the first error, not the ones it caused
  EXPECT_EQ(abandoned.load(), 3);
}

TEST(InProcessPoison, ABrokenGroupRefusesLaterCalls) {
  const std::string error = error_of([&] {
    run_in_process(2, [&](Communicator& c) {
      if (c.rank() == 0) throw Error("early");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      EXPECT_EQ(error_of([&] { c.barrier(); }),
                "barrier: abandoned, the in-process group is broken: rank 0 failed: early");
    });
  });
  EXPECT_EQ(error, "early");
}

TEST(InProcessPoison, AReceiveFromAFailedRankThrows) {
  const std::string error = error_of([&] {
    run_in_process(2, [&](Communicator& c) {
      if (c.rank() == 1) throw Error("no message");
      c.recv(torch::zeros({1}), 1);
    });
  });
  EXPECT_EQ(error, "no message");
}

TEST(InProcessPoison, ARankThatReturnsEarlyBreaksTheCollectivesItSkips) {
  const std::string error = error_of([&] {
    run_in_process(3, [&](Communicator& c) {
      if (c.rank() == 1) return;  // skips the all-reduce: a broken contract
      c.allreduce_sum(torch::zeros({1}));
    });
  });
  EXPECT_EQ(error, "allreduce_sum: rank 1 returned without calling it (the ranks break the collective contract)");
}

TEST(InProcessPoison, OnlyMpiCommunicatorsGiveAnMpiHandle) {
  run_in_process(1, [](Communicator& c) {
    EXPECT_EQ(error_of([&] { mpi_handle(c, "run file"); }),
              "run file: run files and checkpoints need an MPI communicator (parallel HDF5); this one is not");
  });
}

TEST(InProcessPoison, NeedsAtLeastOneRank) {
  EXPECT_EQ(error_of([] { run_in_process(0, [](Communicator&) {}); }), "run_in_process: 0 ranks; need at least 1");
}

}  // namespace
}  // namespace fedsaf
