#pragma once
// Test hooks that make one rank fail or run slower, set through the environment. A malformed value
// is refused by name at the start of a run (check_test_hooks), never silently ignored: a test that
// believes it injected a failure must not pass because the hook never fired.
#include <cstdint>
#include <string>

namespace fedsaf {

// FEDSAF_FAIL_AT=PHASE@ROUND:RANK: PHASE one of kFailPhases, ROUND ≥ 1, 0 ≤ RANK < world size.
struct FailAt {
  std::string phase;
  int64_t round = 0;
  int rank = 0;
};
// FEDSAF_SLOW_RANK=RANK:FACTOR: 0 ≤ RANK < world size, FACTOR finite in [0, kMaxSlowFactor].
struct SlowRank {
  int rank = 0;
  double factor = 0;
};
inline constexpr const char* kFailPhases[] = {"training", "server step", "attention", "evaluation", "run file",
                                              "checkpoint"};
inline constexpr double kMaxSlowFactor = 1000;  // a rank 1000× slower already makes any test time out

// Parse one hook's value; throw fedsaf::Error naming the variable, its value and what is wrong.
FailAt parse_fail_at(const std::string& value, int world_size);
SlowRank parse_slow_rank(const std::string& value, int world_size);
// Parses whichever of the two variables is set; throws as the parsers do. Every rank sees the same
// environment, so every rank throws at the same point (call it inside agreed()).
void check_test_hooks(int world_size);

// Test hook: with FEDSAF_FAIL_AT=PHASE@ROUND:RANK in the environment, fail_point(PHASE) throws
// fedsaf::Error on world rank RANK during round ROUND (1-based, as people count; the engine says
// which round runs through set_fail_point_round), so that tests can make one rank fail at any
// phase of a round and check that the whole job ends. Does nothing without the variable.
void set_fail_point_round(int64_t round);
void fail_point(const char* phase);
// Test hook: with FEDSAF_SLOW_RANK=RANK:FACTOR in the environment, slow_point(seconds) sleeps
// FACTOR × seconds on world rank RANK: a rank that computes slower than the others, for the tests
// of re-placement (run.rebalance). Does nothing without the variable.
void slow_point(double seconds);

}  // namespace fedsaf
