// fedsaf: no-torch
// The generic plug-in registry (core/registry.hpp): entries by order, lookup by name or prefix,
// an unknown name's error naming the key, the value and the choices, and the schema's choices.
#include <gtest/gtest.h>

#include <functional>

#include "core/config_schema.hpp"
#include "core/registry.hpp"

namespace fedsaf {
namespace {

using Make = std::function<int()>;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Registry, FindsEntriesByNameInOrder) {
  Registry<Make> r("test.widget");
  r.add({20, "b", "second"}, [] { return 2; });
  r.add({10, "a", "first"}, [] { return 1; });
  r.add({30, "file:", "takes a path"}, [] { return 3; });
  EXPECT_EQ(r.names(), (std::vector<std::string>{"a", "b", "file:"}));
  EXPECT_EQ(r.infos()[0].summary, "first");
  EXPECT_EQ(r.get("b")(), 2);
  EXPECT_EQ(r.get("file:/tmp/x")(), 3);  // a prefix entry takes the rest as its argument
  EXPECT_EQ(r.get("file:")(), 3);        // …and judges an empty one itself
  EXPECT_EQ(r.find("c"), nullptr);
  EXPECT_EQ(r.find("fil"), nullptr);
}

TEST(Registry, UnknownNameNamesKeyValueAndChoices) {
  Registry<Make> r("test.widget");
  r.add({1, "a", ""}, [] { return 1; });
  r.add({2, "file:", ""}, [] { return 2; });
  EXPECT_EQ(error_of([&] { r.get("zz"); }), "test.widget = 'zz' is not one of: a, file:...");
  EXPECT_EQ(error_of([&] { r.get("zz", "exp.toml"); }), "exp.toml: test.widget = 'zz' is not one of: a, file:...");
  Registry<Make> worded("test.gadget", "{key}: no gadget '{value}' (have {choices})");
  worded.add({1, "x", ""}, [] { return 1; });
  EXPECT_EQ(error_of([&] { worded.get("y"); }), "test.gadget: no gadget 'y' (have x)");
}

TEST(Registry, NameRegisteredTwiceIsRefused) {
  Registry<Make> r("test.widget");
  r.add({1, "a", ""}, [] { return 1; });
  EXPECT_THROW(r.add({2, "a", ""}, [] { return 2; }), Error);
}

// A key's registered choices follow its fixed ones (partition.method's `auto`) in the schema,
// with their summaries in its doc, so the parser checks them and docs/config.md lists them.
TEST(Registry, ChoicesReachTheSchema) {
  static Registry<Make> methods("partition.method");
  methods.add({20, "stripes", "in stripes"}, [] { return 1; });
  methods.add({10, "blocks", "in blocks"}, [] { return 2; });
  for (const ConfigKeySpec& spec : config_schema()) {
    if (spec.key != "partition.method") continue;
    EXPECT_EQ(spec.choices, (std::vector<std::string>{"auto", "blocks", "stripes"}));
    EXPECT_NE(spec.doc.find("`auto` (natural when the data set has groups, else dirichlet); `blocks` in blocks; "
                            "`stripes` in stripes."),
              std::string::npos)
        << spec.doc;
  }
  std::string e;
  try {
    parse_config_text("[partition]\nmethod = \"waves\"\n", "exp.toml");
  } catch (const ConfigError& err) {
    e = err.what();
  }
  EXPECT_NE(e.find("'partition.method': 'waves' is not one of: auto, blocks, stripes"), std::string::npos) << e;
  EXPECT_EQ(parse_config_text("[partition]\nmethod = \"blocks\"\n", "exp.toml").partition.method, "blocks");
}

}  // namespace
}  // namespace fedsaf
