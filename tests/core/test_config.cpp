// fedsaf: no-torch
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/config.hpp"
#include "core/errors.hpp"
#include "tests/core/config_test_support.hpp"

namespace fedsaf {
namespace {

std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return test::config_error_of(text, overrides);
}

TEST(Config, ParsesTypedValuesAndKeepsDefaultsForTheRest) {
  const Config c = parse_config_text(
      "[run]\nseed = 7\nalgorithm = \"fedprox\"\n[train]\nlr = 1\n[model]\nhidden = [64, 32]\n"
      "[data.synthetic]\nalpha = 0.5\n",
      "exp.toml");
  EXPECT_EQ(c.run.seed, 7u);
  EXPECT_EQ(c.run.algorithm, "fedprox");
  EXPECT_DOUBLE_EQ(c.train.lr, 1.0);  // an integer is accepted for a float key
  EXPECT_EQ(c.model.hidden, (std::vector<int64_t>{64, 32}));
  EXPECT_DOUBLE_EQ(c.data.synthetic.alpha, 0.5);
  EXPECT_EQ(c.train.batch_size, TrainConfig{}.batch_size);
}

TEST(Config, UnknownKeyNamesFileLineAndNearestKey) {
  const std::string e = error_of("[train]\nlr = 0.1\nlocal_epoch = 2\n");
  EXPECT_NE(e.find("exp.toml:3:"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key 'train.local_epoch'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'train.local_epochs'"), std::string::npos) << e;
  // A known leaf in the wrong table is found by its last component.
  const std::string e2 = error_of("[run]\nlr = 0.1\n");
  EXPECT_NE(e2.find("did you mean 'train.lr'"), std::string::npos) << e2;
}

TEST(Config, WrongTypeAndOutOfRangeNameTheKey) {
  const std::string t = error_of("[train]\nbatch_size = \"ten\"\n");
  EXPECT_NE(t.find("exp.toml:2:"), std::string::npos) << t;
  EXPECT_NE(t.find("'train.batch_size': expected an integer, got a string"), std::string::npos) << t;
  const std::string r = error_of("[run]\njoin_ratio = 1.5\n");
  EXPECT_NE(r.find("'run.join_ratio': value 1.5 is out of range (must be > 0 and <= 1)"), std::string::npos) << r;
  const std::string z = error_of("[run]\njoin_ratio = 0\n");
  EXPECT_NE(z.find("out of range"), std::string::npos) << z;
  EXPECT_NE(error_of("[model]\nhidden = [10, -1]\n").find("value -1 is out of range"), std::string::npos);
  EXPECT_NE(error_of("[run\n").find("invalid TOML"), std::string::npos);
}

TEST(Config, SetOverridesAnyKeyWithTypes) {
  const Config c = parse_config_text("[train]\nlr = 0.1\n", "exp.toml",
                                     {"train.lr=0.5", "run.algorithm=fedper", "model.name=\"cnn\"",
                                      "model.hidden=[5]", "model.name=torchscript:/tmp/m.pt"});
  EXPECT_DOUBLE_EQ(c.train.lr, 0.5);
  EXPECT_EQ(c.run.algorithm, "fedper");
  EXPECT_EQ(c.model.hidden, std::vector<int64_t>{5});
  EXPECT_EQ(c.model.name, "torchscript:/tmp/m.pt");
  const std::string e = error_of("", {"train.lrr=1"});
  EXPECT_NE(e.find("--set train.lrr=1: unknown key 'train.lrr'; did you mean 'train.lr'?"), std::string::npos) << e;
  EXPECT_NE(error_of("", {"train.lr"}).find("expected KEY=VALUE"), std::string::npos);
  EXPECT_NE(error_of("", {"train.lr=abc"}).find("expected a number, got a string"), std::string::npos);
}

TEST(Config, ResolvedTomlRoundTrips) {
  Config c = parse_config_text("", "a.toml", {"train.lr=0.25", "data.files=[\"x.bin\"]", "run.seed=9",
                                              "run.out_dir=we \"ird\" dir"});
  const std::string text = to_toml(c);
  const Config again = parse_config_text(text, "b.toml");
  EXPECT_EQ(to_toml(again), text);
  EXPECT_DOUBLE_EQ(again.train.lr, 0.25);
  EXPECT_EQ(again.run.out_dir, "we \"ird\" dir");
  EXPECT_EQ(again.data.files, std::vector<std::string>{"x.bin"});
}

TEST(Config, CrossKeyChecks) {
  EXPECT_NE(error_of("[data.synthetic]\nmin_samples = 100\nmax_samples = 50\n").find("max_samples"),
            std::string::npos);
}



}  // namespace
}  // namespace fedsaf

namespace fedsaf {
namespace {

TEST(Config, OneKeyValuePerSet) {
  const std::string e = error_of("", {"run.rounds=3\nrun.seed=5"});
  EXPECT_NE(e.find("a line break inside one --set"), std::string::npos) << e;
}

// A TOML document is UTF-8; a --set value that is not would be stored in the run's resolved
// config as text that reads back as something else (found by fuzz/config_target).
TEST(Config, SetValuesMustBeUtf8) {
  const std::string e = error_of("", {"run.out_dir=runs\x9c"});
  EXPECT_NE(e.find("--set: byte 17 of 'run.out_dir=runs\\x9C' is not UTF-8"), std::string::npos) << e;
  for (const char* bad : {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82"})
    EXPECT_NE(error_of("", {std::string("run.out_dir=") + bad}).find("is not UTF-8"), std::string::npos) << bad;
  const Config c = parse_config_text("", "exp.toml", {"run.out_dir=r\u00e9sultats-\u6570\u636e-\U0001F600"});
  EXPECT_EQ(c.run.out_dir, "r\u00e9sultats-\u6570\u636e-\U0001F600");
  EXPECT_EQ(parse_config_text(to_toml(c), "resolved.toml").run.out_dir, c.run.out_dir);
}

// load_config reads regular files only: a folder, a FIFO or a device is refused by name (a FIFO
// would block, /dev/zero would read without end, a folder would read as an empty file).
TEST(Config, OnlyRegularFilesOfSaneSizeAreRead) {
  const auto refused = [](const std::string& path) {
    try {
      load_config(path, {});
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  char dir_template[] = "/tmp/fedsaf-config-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  EXPECT_NE(refused(dir).find(dir + ": is a folder, not a config file"), std::string::npos) << refused(dir);
  const std::string fifo = dir + "/fifo.toml";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_NE(refused(fifo).find("not a regular file"), std::string::npos) << refused(fifo);
  EXPECT_NE(refused("/dev/zero").find("/dev/zero: not a regular file"), std::string::npos);
  const std::string big = dir + "/big.toml";
  std::ofstream(big) << std::string(2 << 20, '#');
  EXPECT_NE(refused(big).find("a config file is at most 1048576 bytes"), std::string::npos) << refused(big);
  EXPECT_NE(refused(dir + "/missing.toml").find("cannot open config file"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fedsaf

namespace fedsaf {
namespace {
// Sizes that could not be allocated are out of range, naming the key, before anything is built.
TEST(Config, SyntheticSizesHaveSaneLimits) {
  const std::string e = error_of("", {"data.synthetic.features=100000000000"});
  EXPECT_NE(e.find("key 'data.synthetic.features': value 100000000000 is out of range (must be >= 1 and <= 1000000)"),
            std::string::npos)
      << e;
  EXPECT_NE(error_of("", {"data.synthetic.classes=1000000"}).find("data.synthetic.classes"), std::string::npos);
  EXPECT_NE(error_of("", {"data.synthetic.max_samples=100000000"}).find("data.synthetic.max_samples"), std::string::npos);
}
}  // namespace
}  // namespace fedsaf
