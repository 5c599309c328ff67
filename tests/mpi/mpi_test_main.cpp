// fedsaf: no-torch
// GoogleTest main for tests run under mpirun (LAMMPS style). Every rank runs every test; rank 0
// prints the usual gtest report, other ranks print only their failures, prefixed "[rank R]".
// At the end rank 0 gathers each rank's failure count and prints them; every rank exits non-zero
// if any rank failed, so mpirun's status (and CTest's verdict) reflects all ranks.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>
#include <vector>

#include "mpi/environment.hpp"

namespace {

// Failure-only printer for ranks > 0 (their passing output would repeat rank 0's).
class FailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: Failure\n%s\n", rank_, result.file_name() ? result.file_name() : "?",
                 result.line_number(), result.message());
  }
  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (info.result()->Failed())
      std::fprintf(stderr, "[rank %d] FAILED %s.%s\n", rank_, info.test_suite_name(), info.name());
  }

 private:
  int rank_;
};

}  // namespace

// A test binary may define this (tests/gpu does): a non-empty reason skips the whole binary on
// every rank with exit status 77, CTest's SKIP_RETURN_CODE: reported as skipped, never as passed.
const char* fedsaf_test_skip_reason() __attribute__((weak));

int main(int argc, char** argv) {
  fedsaf::Environment env(argc, argv);
  if (fedsaf_test_skip_reason != nullptr && *fedsaf_test_skip_reason() != '\0') {
    if (env.rank() == 0) std::printf("[mpi] SKIPPED: %s\n", fedsaf_test_skip_reason()), std::fflush(stdout);
    return 77;
  }
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::TestEventListeners& listeners = ::testing::UnitTest::GetInstance()->listeners();
  if (env.rank() > 0) {
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new FailurePrinter(env.rank()));
  }

  const int status = RUN_ALL_TESTS();
  int failed = ::testing::UnitTest::GetInstance()->failed_test_count();
  if (status != 0 && failed == 0) failed = 1;  // a failure outside any test (environment, global)

  std::vector<int> per_rank(static_cast<size_t>(env.size()));  // [R] failed tests per rank
  MPI_Gather(&failed, 1, MPI_INT, per_rank.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  int total = 0;
  if (env.rank() == 0) {
    std::printf("[mpi] %d rank(s); failed tests per rank:", env.size());
    for (int f : per_rank) std::printf(" %d", f), total += f;
    std::printf("\n");
    if (total > 0) std::printf("[mpi] FAILED on some rank: see the [rank R] lines for ranks > 0\n");
    std::fflush(stdout);
  }
  MPI_Bcast(&total, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return total > 0 ? 1 : 0;
}
