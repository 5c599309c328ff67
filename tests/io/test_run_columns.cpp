// fedsaf: no-torch
// The run file's declared tables (io/run_columns.hpp) against io/SCHEMA.md, both ways: every
// declared column is documented under its path with its shape and dtype, and every documented
// data set of /metrics/rounds, /metrics/eval and /timing is declared.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "io/run_columns.hpp"

using namespace fedsaf;

namespace {

struct SchemaRow {
  std::string shape, dtype;
};

// The rows of SCHEMA.md's data set tables: "/metrics/eval/auc" → {"[E]", "float64"}.
std::map<std::string, SchemaRow> documented_datasets() {
  std::ifstream in(std::string(FEDSAF_SOURCE_DIR) + "/io/SCHEMA.md");
  EXPECT_TRUE(in.good()) << "cannot read io/SCHEMA.md";
  const std::regex row(R"(^\| `(/[^`]*)` \| (\[[^\]]*\]) \| ([a-z0-9]+) \|)");
  std::map<std::string, SchemaRow> out;
  std::string line;
  std::smatch m;
  while (std::getline(in, line))
    if (std::regex_search(line, m, row)) out[m[1].str()] = {m[2].str(), m[3].str()};
  return out;
}

// Expects each column of a table documented as /group/name with `shape` and its dtype, and adds
// its path to `declared`.
template <typename Record, size_t N>
void expect_documented(const std::map<std::string, SchemaRow>& documented, const char* group,
                       const RunColumn<Record> (&columns)[N], const std::string& shape, std::set<std::string>& declared) {
  for (const auto& c : columns) {
    const std::string path = "/" + std::string(group) + "/" + c.name;
    declared.insert(path);
    const auto it = documented.find(path);
    if (it == documented.end()) {
      ADD_FAILURE() << path << " is declared in io/run_columns.hpp but not documented in io/SCHEMA.md";
      continue;
    }
    EXPECT_EQ(it->second.shape, shape) << path;
    EXPECT_EQ(it->second.dtype, h5::dtype_name(c.dtype())) << path;
  }
}

}  // namespace

TEST(RunColumns, MatchTheSchemaBothWays) {
  const std::map<std::string, SchemaRow> documented = documented_datasets();
  ASSERT_GT(documented.size(), 30u) << "could not parse io/SCHEMA.md";
  std::set<std::string> declared;
  expect_documented(documented, kRoundsGroup, kRoundColumns, "[R]", declared);
  expect_documented(documented, kEvalGroup, kEvalColumns, "[E]", declared);
  expect_documented(documented, kTimingGroup, kTimingColumns, "[R, W]", declared);
  const std::string client_accuracy = "/" + std::string(kEvalGroup) + "/" + kClientAccuracyName;
  declared.insert(client_accuracy);
  ASSERT_TRUE(documented.count(client_accuracy)) << client_accuracy;
  EXPECT_EQ(documented.at(client_accuracy).shape, "[E, N]");
  EXPECT_EQ(documented.at(client_accuracy).dtype, "float64");

  // The other way: every data set documented directly in these groups is declared.
  size_t in_groups = 0;
  for (const auto& entry : documented) {
    const std::string& path = entry.first;
    for (const char* group : {kRoundsGroup, kEvalGroup, kTimingGroup}) {
      const std::string prefix = "/" + std::string(group) + "/";
      if (path.rfind(prefix, 0) != 0 || path.find('/', prefix.size()) != std::string::npos) continue;
      ++in_groups;
      EXPECT_TRUE(declared.count(path)) << path << " is documented in io/SCHEMA.md but not declared in io/run_columns.hpp";
    }
  }
  EXPECT_EQ(in_groups, declared.size());
}

TEST(RunColumns, NamesAreDistinctWithinEachTable) {
  const auto distinct = [](const auto& columns) {
    std::map<std::string, int> seen;
    for (const auto& c : columns) ++seen[c.name];
    for (const auto& [name, count] : seen) EXPECT_EQ(count, 1) << name;
  };
  distinct(kRoundColumns);
  distinct(kEvalColumns);
  distinct(kTimingColumns);
}

TEST(RunColumns, ColumnOfFindsAFieldsColumn) {
  EXPECT_STREQ(column_of(kTimingColumns, &RoundTiming::io_seconds).name, "io_seconds");
  EXPECT_STREQ(column_of(kRoundColumns, &RoundRecord::diverged_clients).name, "diverged_clients");
  EXPECT_EQ(column_of(kEvalColumns, &EvalRecord::round).dtype(), h5::DType::kI64);
  EXPECT_EQ(column_of(kEvalColumns, &EvalRecord::auc).dtype(), h5::DType::kF64);
}
