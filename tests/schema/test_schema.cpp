// The config schema as every program sees it, with every plug-in registered: the algorithms'
// sections, the choices of run.algorithm, data.dataset, model.name and partition.method (from
// their registries, the same values as before they were plug-ins), docs/config.md in sync.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "algo/attention_options.hpp"
#include "algo/registry.hpp"
#include "core/config.hpp"
#include "core/config_schema.hpp"
#include "core/errors.hpp"
#include "tests/core/config_test_support.hpp"
#include "data/dataset_registry.hpp"
#include "data/partition_registry.hpp"
#include "model/model_registry.hpp"

namespace fedsaf {
namespace {

std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return test::config_error_of(text, overrides);
}

std::vector<std::string> choices_of(const std::string& key) {
  for (const ConfigKeySpec& spec : config_schema())
    if (spec.key == key) return spec.choices;
  ADD_FAILURE() << "no key " << key;
  return {};
}

// Every value accepted before the plug-ins is accepted now, in the same order.
TEST(Schema, ChoicesComeFromTheRegistries) {
  using Names = std::vector<std::string>;
  EXPECT_EQ(choices_of("data.dataset"), (Names{"synthetic", "fashionmnist", "mnist", "cifar10", "hdf5"}));
  EXPECT_EQ(datasets().names(), choices_of("data.dataset"));
  EXPECT_EQ(choices_of("model.name"), (Names{"logreg", "mlp", "cnn", "resnet18", "torchscript:"}));
  EXPECT_EQ(models().names(), choices_of("model.name"));
  EXPECT_EQ(choices_of("partition.method"), (Names{"auto", "iid", "dirichlet", "pathological", "quantity", "natural"}));
  EXPECT_EQ(partitions().names(), (Names{"iid", "dirichlet", "pathological", "quantity", "natural"}));
  EXPECT_EQ(choices_of("run.algorithm"), algorithm_names());
}

TEST(Schema, UnknownPlugInNamesTheKeyValueAndChoices) {
  const std::string d = error_of("[data]\ndataset = \"imagenet\"\n");
  EXPECT_NE(d.find("exp.toml:2:"), std::string::npos) << d;
  EXPECT_NE(d.find("'data.dataset': 'imagenet' is not one of: synthetic, fashionmnist, mnist, cifar10, hdf5"),
            std::string::npos)
      << d;
  const std::string m = error_of("", {"model.name=transformer"});
  EXPECT_NE(m.find("'model.name': 'transformer' is not one of: logreg, mlp, cnn, resnet18, torchscript:..."),
            std::string::npos)
      << m;
  const std::string p = error_of("[partition]\nmethod = \"random\"\n");
  EXPECT_NE(p.find("'random' is not one of: auto, iid, dirichlet, pathological, quantity, natural"), std::string::npos)
      << p;
  const std::string ch = error_of("[run]\nalgorithm = \"fedsgd\"\n");
  EXPECT_NE(ch.find("'fedsgd' is not one of: local, fedavg"), std::string::npos) << ch;
  EXPECT_EQ(parse_config_text("", "exp.toml", {"model.name=torchscript:/tmp/m.pt"}).model.name, "torchscript:/tmp/m.pt");
}

TEST(Schema, ReferencePageIsInSyncWithTheParser) {
  std::ifstream in(std::string(FEDSAF_SOURCE_DIR) + "/docs/config.md");
  ASSERT_TRUE(in) << "docs/config.md missing";
  std::stringstream buffer;
  buffer << in.rdbuf();
  EXPECT_EQ(buffer.str(), config_reference_markdown())
      << "docs/config.md is stale: regenerate it with `fedsaf config --reference > docs/config.md`";
  for (const auto& key : config_keys()) EXPECT_NE(buffer.str().find("`" + key + "`"), std::string::npos) << key;
}

TEST(Schema, ShippedConfigsParse) {
  for (const auto& entry : std::filesystem::directory_iterator(std::string(FEDSAF_SOURCE_DIR) + "/configs")) {
    const std::string name = entry.path().filename().string();
    EXPECT_NO_THROW(load_config(std::string(FEDSAF_SOURCE_DIR) + "/configs/" + name)) << name;
  }
}

// The algorithms' own sections: registered from their files, typed after parsing, and listed in
// the schema, the resolved TOML and run.algorithm's choices in registration order.
TEST(Schema, AlgorithmSectionsAreTypedAndComeFromTheRegistry) {
  EXPECT_EQ(algorithm_names(),
            (std::vector<std::string>{"local", "fedavg", "fedprox", "fedper", "fedamp", "fedsaf", "fedavgm"}));
  const Config c = parse_config_text("[attention]\nkernel = \"heur\"\nexchange = \"allgather\"\n", "exp.toml");
  EXPECT_EQ(c.section<AttentionOptions>().kernel, AttentionKernel::heur);
  EXPECT_EQ(c.section<AttentionOptions>().exchange, PairwiseMode::allgather);
  EXPECT_EQ(default_config().section<AttentionOptions>().kernel, AttentionKernel::fedamp);
  const std::string toml = to_toml(c);
  EXPECT_NE(toml.find("[attention]\nkernel = 'heur'\n"), std::string::npos) << toml;
  EXPECT_NE(toml.find("exchange = 'allgather'"), std::string::npos) << toml;
  EXPECT_NE(toml.find("[fedsaf]\nfisher_mode = 'param'\nfisher_norm = 'per_tensor'"), std::string::npos) << toml;
  // A copy owns its sections.
  Config copy = c;
  copy.section<AttentionOptions>().kernel = AttentionKernel::samples;
  EXPECT_EQ(c.section<AttentionOptions>().kernel, AttentionKernel::heur);
  EXPECT_EQ(config_diff(c, copy), (std::vector<std::string>{"attention.kernel: 'heur' → 'samples'"}));
  // Enum keys take only their names and round-trip through the resolved TOML.
  const std::string bad = error_of("[fedsaf]\nfisher_norm = \"bogus\"\n");
  EXPECT_NE(bad.find("key 'fedsaf.fisher_norm': 'bogus' is not one of: per_tensor, none"), std::string::npos) << bad;
  EXPECT_NE(error_of("[fedsaf]\ndeep_mode = 1\n").find("expected a string"), std::string::npos);
  const Config again = parse_config_text(to_toml(c), "resolved.toml");
  EXPECT_TRUE(config_diff(c, again).empty());
  EXPECT_EQ(make_algorithm(parse_config_text("", "exp.toml", {"run.algorithm=fedprox"}))->name(), "fedprox");
}

TEST(Schema, SigmaTakesAutoOrAPositiveNumber) {
  const auto sigma = [](const Config& c) { return c.section<AttentionOptions>().sigma; };
  EXPECT_EQ(sigma(parse_config_text("[attention]\nsigma = 250\n", "exp.toml")), "250");
  EXPECT_EQ(sigma(parse_config_text("", "exp.toml", {"attention.sigma=0.5"})), "0.5");
  EXPECT_EQ(sigma(parse_config_text("", "exp.toml")), "auto");
  EXPECT_NE(error_of("[attention]\nsigma = -1\n").find("attention.sigma = '-1': expected \"auto\" or a number > 0"),
            std::string::npos);
  EXPECT_NE(error_of("[attention]\nsigma = \"big\"\n").find("attention.sigma"), std::string::npos);
}

// Infinite values pass no range check: every numeric key must be a finite number.
TEST(Schema, InfinityIsOutOfRangeEverywhere) {
  for (const char* key : {"train.lr", "fedprox.mu", "train.weight_decay", "attention.alpha_k", "attention.lambda",
                          "attention.heur_scale", "data.synthetic.alpha"}) {
    const std::string k = key;
    const std::string table = k.substr(0, k.rfind('.')), leaf = k.substr(k.rfind('.') + 1);
    const std::string e = error_of("[" + table + "]\n" + leaf + " = inf\n");
    EXPECT_NE(e.find("'" + k + "': value inf is not a finite number"), std::string::npos) << k << ": " << e;
    const std::string s = error_of("", {k + "=+inf"});
    EXPECT_NE(s.find("is not a finite number"), std::string::npos) << k << ": " << s;
  }
}

}  // namespace
}  // namespace fedsaf
