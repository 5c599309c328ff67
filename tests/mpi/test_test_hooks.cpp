// fedsaf: no-torch
// The test hooks' values (mpi/test_hooks.hpp) are refused by name when malformed (issue 25 §9): a
// hook that silently never fires would make a failure test pass without failing anything.
#include <gtest/gtest.h>

#include <string>

#include "core/errors.hpp"
#include "mpi/test_hooks.hpp"

namespace fedsaf {
namespace {

std::string fail_at_error(const std::string& value, int world_size) {
  try {
    parse_fail_at(value, world_size);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
std::string slow_rank_error(const std::string& value, int world_size) {
  try {
    parse_slow_rank(value, world_size);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(TestHooks, WellFormedValuesParse) {
  const FailAt fail = parse_fail_at("server step@3:1", 2);
  EXPECT_EQ(fail.phase, "server step");
  EXPECT_EQ(fail.round, 3);
  EXPECT_EQ(fail.rank, 1);
  const SlowRank slow = parse_slow_rank("1:2.5", 2);
  EXPECT_EQ(slow.rank, 1);
  EXPECT_DOUBLE_EQ(slow.factor, 2.5);
  EXPECT_DOUBLE_EQ(parse_slow_rank("0:0", 1).factor, 0.0);
}

TEST(TestHooks, AMalformedFailAtIsNamed) {
  EXPECT_NE(fail_at_error("training@x:y", 2).find("FEDSAF_FAIL_AT=training@x:y: round 'x'"), std::string::npos);
  EXPECT_NE(fail_at_error("training@2:y", 2).find("rank 'y' is not a rank of this run (0 to 1"), std::string::npos);
  EXPECT_NE(fail_at_error("training@2:2", 2).find("rank '2' is not a rank"), std::string::npos);  // no rank 2 of 2
  EXPECT_NE(fail_at_error("training@2:-1", 2).find("rank '-1'"), std::string::npos);
  EXPECT_NE(fail_at_error("training@0:0", 2).find("round '0'"), std::string::npos);
  EXPECT_NE(fail_at_error("trainnig@2:0", 2).find("unknown phase 'trainnig'"), std::string::npos);
  EXPECT_NE(fail_at_error("training", 2).find("expected PHASE@ROUND:RANK"), std::string::npos);
  EXPECT_NE(fail_at_error("training@2:1 ", 2).find("rank '1 '"), std::string::npos);
}

TEST(TestHooks, AMalformedSlowRankIsNamed) {
  EXPECT_NE(slow_rank_error("1:nan", 2).find("FEDSAF_SLOW_RANK=1:nan: factor 'nan'"), std::string::npos);
  EXPECT_NE(slow_rank_error("0:1e300", 2).find("factor '1e300' is not a number from 0 to 1000"), std::string::npos);
  EXPECT_NE(slow_rank_error("1:2xyz", 2).find("factor '2xyz'"), std::string::npos);
  EXPECT_NE(slow_rank_error("1:-1", 2).find("factor '-1'"), std::string::npos);
  EXPECT_NE(slow_rank_error("1:inf", 2).find("factor 'inf'"), std::string::npos);
  EXPECT_NE(slow_rank_error("1:", 2).find("factor ''"), std::string::npos);
  EXPECT_NE(slow_rank_error("3:2", 2).find("rank '3' is not a rank of this run"), std::string::npos);
  EXPECT_NE(slow_rank_error("2.5", 2).find("expected RANK:FACTOR"), std::string::npos);
}

}  // namespace
}  // namespace fedsaf
