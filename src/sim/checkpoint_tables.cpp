#include "sim/checkpoint_tables.hpp"

#include <fmt/format.h>
#include <hdf5.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "io/h5.hpp"
#include "io/run_columns.hpp"

namespace fedsaf {

namespace {

std::string path_in(const char* group, const char* name) { return std::string(group) + "/" + name; }

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw IoError(fmt::format("/{}: {}", path, what));
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s;
  for (int64_t d : shape) s += (s.empty() ? "" : ", ") + (d < 0 ? std::string("any") : std::to_string(d));
  return "[" + s + "]";
}

// The data set at path, which must exist, hold `type` and have `expected` as its shape (-1: any
// length in that dimension, said "any"); a resume appends rows to those that are `appended`, so their first
// dimension must be extendible.
h5::Dataset require(const h5::File& file, const std::string& path, h5::DType type, const std::vector<int64_t>& expected,
                    bool appended) {
  if (!file.exists(path) || file.is_group(path)) bad(path, "missing");
  h5::Dataset d = file.open_dataset(path);
  const std::vector<int64_t> shape = d.shape();
  bool fits = shape.size() == expected.size();
  for (size_t i = 0; fits && i < shape.size(); ++i) fits = expected[i] < 0 || shape[i] == expected[i];
  if (!fits) bad(path, fmt::format("shape {}, expected {}", shape_text(shape), shape_text(expected)));
  if (d.dtype() != type) bad(path, fmt::format("holds {}, expected {}", h5::dtype_name(d.dtype()), h5::dtype_name(type)));
  if (appended) {
    std::vector<hsize_t> dims(shape.size()), max_dims(shape.size());
    const hid_t space = H5Dget_space(d.id());
    H5Sget_simple_extent_dims(space, dims.data(), max_dims.data());
    H5Sclose(space);
    if (max_dims.empty() || max_dims[0] != H5S_UNLIMITED)
      bad(path, "its rows cannot grow (not an extendible data set): not written by fedsaf");
  }
  return d;
}

// values (a round column) ascending strictly and each a round already done.
void require_rounds(const std::string& path, const std::vector<int64_t>& rounds, int64_t rounds_done) {
  for (size_t i = 0; i < rounds.size(); ++i) {
    if (rounds[i] < 0 || rounds[i] >= rounds_done)
      bad(path, fmt::format("row {} says round index {}, but the checkpoint follows round index {}", i, rounds[i],
                            rounds_done - 1));
    if (i > 0 && rounds[i] <= rounds[i - 1])
      bad(path, fmt::format("round indices {} then {}: not ascending", rounds[i - 1], rounds[i]));
  }
}

// Every entry of a placement (rows of N ranks) a rank of the run.
void require_ranks(const std::string& path, const std::vector<int64_t>& ranks, int64_t world) {
  const auto wrong = std::find_if(ranks.begin(), ranks.end(), [&](int64_t r) { return r < 0 || r >= world; });
  if (wrong != ranks.end())
    bad(path, fmt::format("entry {} is rank {}, but the run had {} rank(s)", wrong - ranks.begin(), *wrong, world));
}

// Each column of a table; a missing one is refused unless `newer_may_lack` (RunFile::continue_file
// adds a /metrics/rounds column newer than the file), the first (the round index) always.
template <typename Record, size_t N>
void require_columns(const h5::File& file, const char* group, const RunColumn<Record> (&columns)[N],
                     const std::vector<int64_t>& shape, bool newer_may_lack = false) {
  for (const RunColumn<Record>& c : columns) {
    const std::string path = path_in(group, c.name);
    if (newer_may_lack && &c != &columns[0] && !file.exists(path)) continue;
    require(file, path, c.dtype(), shape, true);
  }
}

}  // namespace

void validate_run_tables(const h5::File& file, int64_t rounds_done) {
  const auto root = file.attrs();
  if (!root.has("num_clients") || root.get_int("num_clients") < 1) bad("", "no num_clients attribute ≥ 1");
  const int64_t n = root.get_int("num_clients");
  require_columns(file, kRoundsGroup, kRoundColumns, {rounds_done}, /*newer_may_lack=*/true);
  const std::string first_timing = path_in(kTimingGroup, kTimingColumns[0].name);
  const int64_t world = require(file, first_timing, kTimingColumns[0].dtype(), {rounds_done, -1}, true).shape()[1];
  if (world < 1) bad(first_timing, "no rank columns");
  require_columns(file, kTimingGroup, kTimingColumns, {rounds_done, world});

  const std::string eval_round = path_in(kEvalGroup, kEvalColumns[0].name);
  const h5::Dataset evals = require(file, eval_round, h5::DType::kI64, {-1}, true);
  const int64_t e = evals.shape()[0];
  require_columns(file, kEvalGroup, kEvalColumns, {e});
  require(file, path_in(kEvalGroup, kClientAccuracyName), h5::DType::kF64, {e, n}, true);
  require_rounds(eval_round, evals.read<int64_t>(), rounds_done);

  const std::string placement = "partition/placement";
  require_ranks(placement, require(file, placement, h5::DType::kI64, {n}, false).read<int64_t>(), world);
  if (!file.exists("partition/replacements")) return;
  const std::string round = "partition/replacements/round", rows = "partition/replacements/placement";
  const h5::Dataset rounds = require(file, round, h5::DType::kI64, {-1}, true);
  const int64_t k = rounds.shape()[0];
  require_rounds(round, rounds.read<int64_t>(), rounds_done);
  require_ranks(rows, require(file, rows, h5::DType::kI64, {k, n}, true).read<int64_t>(), world);
}

}  // namespace fedsaf
