// run.eval_clients: what it accepts, the errors that name it, and the sample it draws.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/errors.hpp"
#include "core/eval_clients.hpp"
#include "tests/common/test_support.hpp"
#include "tests/core/config_test_support.hpp"

namespace fedsaf {
namespace {

TEST(EvalClients, ParsesAllCountsAndFractions) {
  EXPECT_EQ(parse_eval_clients("all").kind, EvalClientsSpec::Kind::all);
  const EvalClientsSpec count = parse_eval_clients("1000");
  EXPECT_EQ(count.kind, EvalClientsSpec::Kind::count);
  EXPECT_EQ(count.value, 1000.0);
  EXPECT_EQ(parse_eval_clients("1").kind, EvalClientsSpec::Kind::count) << "1 is one client";
  const EvalClientsSpec fraction = parse_eval_clients("0.25");
  EXPECT_EQ(fraction.kind, EvalClientsSpec::Kind::fraction);
  EXPECT_EQ(fraction.value, 0.25);
}

TEST(EvalClients, RefusesWhatIsNeitherByName) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "expected \"all\", a count"},      {"most", "expected \"all\", a count"},
      {"10%", "expected \"all\", a count"},   {"nan", "expected \"all\", a count"},
      {"0", "must be positive"},              {"-3", "must be positive"},
      {"1.5", "must be a whole number"},      {"12abc", "expected \"all\", a count"}};
  for (const auto& [text, why] : cases) {
    const std::string message = test::error_of([&] { parse_eval_clients(text); });
    EXPECT_NE(message.find("run.eval_clients = '" + text + "'"), std::string::npos) << message;
    EXPECT_NE(message.find(why), std::string::npos) << text << ": " << message;
  }
}

TEST(EvalClients, DrawsAFixedSortedSampleFromTheSeed) {
  EXPECT_EQ(draw_eval_clients({}, 1, 5), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  const EvalClientsSpec four{EvalClientsSpec::Kind::count, 4};
  const std::vector<int64_t> a = draw_eval_clients(four, 7, 100);
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(draw_eval_clients(four, 7, 100), a) << "the same seed draws the same clients";
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(std::set<int64_t>(a.begin(), a.end()).size(), 4u) << "without replacement";
  for (int64_t c : a) EXPECT_TRUE(c >= 0 && c < 100) << c;
  EXPECT_NE(draw_eval_clients(four, 8, 100), a) << "another seed, another sample (of C(100, 4))";
  EXPECT_EQ(draw_eval_clients({EvalClientsSpec::Kind::fraction, 0.1}, 7, 95).size(), 9u);  // ⌊9.5⌋
  EXPECT_EQ(draw_eval_clients({EvalClientsSpec::Kind::fraction, 0.01}, 7, 20).size(), 1u) << "at least one";
  EXPECT_EQ(draw_eval_clients({EvalClientsSpec::Kind::count, 20}, 7, 20).size(), 20u);
  const std::string message = test::error_of([&] { draw_eval_clients({EvalClientsSpec::Kind::count, 21}, 7, 20); });
  EXPECT_NE(message.find("run.eval_clients = 21: more than the run's 20 clients"), std::string::npos) << message;
}

// In a config: a TOML number or string, checked against run.clients where the count is known.
TEST(EvalClients, ConfigTakesNumbersAndNamesTheFile) {
  EXPECT_EQ(parse_config_text("[run]\neval_clients = 5\n", "exp.toml").run.eval_clients, "5");
  EXPECT_EQ(parse_config_text("[run]\neval_clients = 0.5\n", "exp.toml").run.eval_clients, "0.5");
  EXPECT_EQ(parse_config_text("", "exp.toml").run.eval_clients, "all");
  EXPECT_EQ(test::config_error_of("[run]\nclients = 20\neval_clients = 21\n"),
            "exp.toml: run.eval_clients = 21: more than run.clients = 20 (\"all\" evaluates every client)");
  EXPECT_EQ(test::config_error_of("", {"run.eval_clients=-1"}),
            "exp.toml: run.eval_clients = '-1': must be positive (\"all\" evaluates every client)");
}

}  // namespace
}  // namespace fedsaf
