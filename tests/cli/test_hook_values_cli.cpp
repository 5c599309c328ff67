// `fedsaf run` refuses a malformed test hook before it starts (issue 25 §9), even one whose phase
// would never be reached: the hook would otherwise be ignored silently.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/common/test_support.hpp"

namespace {

TEST(HookValuesCli, ANonexistentRankIsRefusedByName) {
  const std::string out = "/tmp/fedsaf-hook-values-cli";
  std::filesystem::remove_all(out);
  const auto o = fedsaf::test::run_command("FEDSAF_FAIL_AT='training@1:3' " + std::string(FEDSAF_BINARY) +
                                           " run --set run.rounds=1 --set run.clients=2 --out " + out);
  EXPECT_EQ(o.status, 1) << o.output;
  EXPECT_NE(o.output.find("FEDSAF_FAIL_AT=training@1:3: rank '3' is not a rank of this run (0 to 0 with 1 rank(s))"),
            std::string::npos)
      << o.output;
  EXPECT_FALSE(std::filesystem::exists(out + "/run.h5")) << "refused before anything is written";
  std::filesystem::remove_all(out);
}

}  // namespace
