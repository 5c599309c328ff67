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

TEST(ModelsCli, BadArgumentsFailWithOneLine) {
  const CommandResult bad_model = run("models --model transformer");
  EXPECT_EQ(bad_model.status, 1) << bad_model.output;
  EXPECT_NE(bad_model.output.find("fedsaf: error: model.name: unknown model 'transformer'"), std::string::npos)
      << bad_model.output;
  const CommandResult bad_input = run("models --input 1,x,28");
  EXPECT_EQ(bad_input.status, 1) << bad_input.output;
  EXPECT_NE(bad_input.output.find("--input"), std::string::npos) << bad_input.output;
  const CommandResult cnn_on_vectors = run("models --model cnn --input 60");
  EXPECT_EQ(cnn_on_vectors.status, 1) << cnn_on_vectors.output;
  EXPECT_NE(cnn_on_vectors.output.find("model.name: cnn needs image samples"), std::string::npos)
      << cnn_on_vectors.output;
}

// Sizes no model could be built with are refused by name before anything is allocated.
TEST(ModelsCli, ImpossibleSizesAreRefusedBeforeAllocating) {
  const CommandResult features = run("models --model mlp --input 100000000000");
  EXPECT_EQ(features.status, 1) << features.output;
  EXPECT_NE(features.output.find("fedsaf: error: --input: D = 100000000000 is above 1000000 features"), std::string::npos)
      << features.output;
  const CommandResult image = run("models --model cnn --input 3,100000,100000");
  EXPECT_EQ(image.status, 1) << image.output;
  EXPECT_NE(image.output.find("--input: 3,100000,100000 is beyond C <= 4096, H, W <= 16384"), std::string::npos)
      << image.output;
  const CommandResult hidden = run("models --model mlp --hidden 10000000");
  EXPECT_EQ(hidden.status, 1) << hidden.output;
  EXPECT_NE(hidden.output.find("--hidden: 10000000 is above 1000000 units"), std::string::npos) << hidden.output;
  const CommandResult classes = run("models --model mlp --classes 10000000");
  EXPECT_NE(classes.status, 0) << classes.output;
  EXPECT_NE(classes.output.find("--classes"), std::string::npos) << classes.output;
  EXPECT_EQ(classes.output.find("bad_alloc"), std::string::npos) << classes.output;
}

}  // namespace
