// A word that names no sub-command is a usage error (exit 2) naming the word and listing the
// commands, even with --help after it (issue 25 §10): a typo must never look like a success.
#include <gtest/gtest.h>

#include <string>

#include "tests/common/test_support.hpp"

namespace {

using fedsaf::test::run_fedsaf;

TEST(UnknownCommand, ATypoIsNamedAndTheCommandsListed) {
  const auto o = run_fedsaf("rnu x.toml");
  EXPECT_EQ(o.status, 2) << o.output;
  EXPECT_NE(o.output.find("unknown command 'rnu'"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("run, plan, inspect"), std::string::npos) << o.output;  // the list of commands
}

TEST(UnknownCommand, HelpAfterAnUnknownWordIsStillAnError) {
  const auto o = run_fedsaf("plna --help");
  EXPECT_EQ(o.status, 2) << o.output;
  EXPECT_NE(o.output.find("unknown command 'plna'"), std::string::npos) << o.output;
  EXPECT_EQ(o.output.find("Usage:"), std::string::npos) << "no main help that reads as success: " << o.output;
}

TEST(UnknownCommand, KnownCommandsAndOptionsAreUntouched) {
  EXPECT_EQ(run_fedsaf("run --help").status, 0);
  EXPECT_EQ(run_fedsaf("--version").status, 0);
  EXPECT_EQ(run_fedsaf("models").status, 0);
}

}  // namespace
