// fedsaf: no-torch
// `fedsaf models` end to end: runs the built binary and reads its listing.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <regex>
#include <string>
#include <sys/wait.h>

#include "tests/common/test_support.hpp"

namespace {

using fedsaf::test::CommandResult;
CommandResult run(const std::string& args) { return fedsaf::test::run_fedsaf(args); }

// The block of the listing that starts at the line beginning with `title`.
std::string section(const std::string& output, const std::string& title) {
  const size_t begin = output.find(title);
  if (begin == std::string::npos) return "";
  const size_t end = output.find("\n\n", begin);
  return output.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

TEST(ModelsCli, DefaultListingShowsTheCnnSplit) {
  const CommandResult r = run("models");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string cnn = section(r.output, "cnn | input [1, 28, 28] | 10 classes | 582,026 parameters in L = 4 layers");
  ASSERT_FALSE(cnn.empty()) << r.output;
  // n_head = 2: conv1 + conv2 shared, fc1 + fc private.
  EXPECT_TRUE(std::regex_search(cnn, std::regex(R"(\n +2 +52,096 +529,930 +8\.95%)"))) << cnn;
  EXPECT_FALSE(section(r.output, "cnn | input [3, 32, 32] | 10 classes | 878,538 parameters").empty()) << r.output;
  EXPECT_FALSE(section(r.output, "resnet18 | input [3, 32, 32] | 10 classes | 11,173,962 parameters in L = 21")
                   .empty()) << r.output;
  EXPECT_FALSE(section(r.output, "logreg | input [60] | 10 classes | 610 parameters").empty()) << r.output;
  EXPECT_FALSE(section(r.output, "mlp (hidden 200) | input [60]").empty()) << r.output;
}

TEST(ModelsCli, InputClassesAndModelOptions) {
  const CommandResult r = run("models --model cnn --input 1,28,28 --classes 62");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("cnn | input [1, 28, 28] | 62 classes | 608,702 parameters"), std::string::npos)
      << r.output;  // fc: 512·62 + 62 = 31,806 instead of 5,130
  EXPECT_NE(r.output.find("52,096"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("resnet18"), std::string::npos) << r.output;  // only the model asked for

  const CommandResult mlp = run("models --model mlp --input 60 --hidden 8,4");
  ASSERT_EQ(mlp.status, 0) << mlp.output;
  EXPECT_NE(mlp.output.find("mlp (hidden 8,4) | input [60] | 10 classes | 574 parameters in L = 3"),
            std::string::npos) << mlp.output;
}

// `fedsaf models ARGS` fails with `status` (2: a usage error caught by the option's own range)
// and a message holding `message`.
void expect_refused(const std::string& args, const std::string& message, int status = 1) {
  const CommandResult r = run("models " + args);
  EXPECT_EQ(r.status, status) << args << "\n" << r.output;
  EXPECT_NE(r.output.find(message), std::string::npos) << args << "\n" << r.output;
  EXPECT_EQ(r.output.find("bad_alloc"), std::string::npos) << args << "\n" << r.output;
}

TEST(ModelsCli, BadArgumentsFailWithOneLine) {
  expect_refused("--model transformer", "fedsaf: error: model.name: unknown model 'transformer'");
  expect_refused("--input 1,x,28", "--input");
  expect_refused("--model cnn --input 60", "model.name: cnn needs image samples");
}

// Sizes no model could be built with are refused by name before anything is allocated.
TEST(ModelsCli, ImpossibleSizesAreRefusedBeforeAllocating) {
  expect_refused("--model mlp --input 100000000000", "fedsaf: error: --input: D = 100000000000 is above 1000000 features");
  expect_refused("--model cnn --input 3,100000,100000", "--input: 3,100000,100000 is beyond C <= 4096, H, W <= 16384");
  expect_refused("--model mlp --hidden 10000000", "--hidden: 10000000 is above 1000000 units");
  expect_refused("--model mlp --classes 10000000", "--classes: Value 10000000 not in range 1 to 1000000", 2);
}

}  // namespace
