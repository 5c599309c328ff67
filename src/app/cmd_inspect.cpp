// fedsaf: no-torch
// `fedsaf inspect RUN.h5`: the summary of a run file without Python: config, partition
// statistics, best / last / mean-of-last-10 accuracy, wall time and bytes moved.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <iostream>
#include <limits>
#include <numeric>

#include "app/commands.hpp"
#include "core/errors.hpp"
#include "core/limits.hpp"
#include "io/h5.hpp"
#include "io/run_file.hpp"

namespace fedsaf::app {

namespace {

std::string percent(double x) { return fmt::format("{:.2f}%", 100.0 * x); }

// Every number inspect prints comes from the file: each is checked first, so that a damaged or
// crafted file gets one error naming the field instead of "-5 clients" or a wild read.
class RunFileChecks {
 public:
  RunFileChecks(const h5::File& file, std::string path) : file_(file), path_(std::move(path)) {}

  int64_t count(const std::string& name, int64_t lo, int64_t hi) const {
    const int64_t v = file_.attrs().get_int(name);
    if (v < lo || v > hi) damaged(fmt::format("attribute {} = {} is outside [{}, {}]", name, v, lo, hi));
    return v;
  }

  // A data set's values, its shape checked against `dims` (-1: any length).
  template <typename T>
  std::vector<T> values(const std::string& name, const std::vector<int64_t>& dims) const {
    const h5::Dataset d = file_.open_dataset(name);
    const std::vector<int64_t> shape = d.shape();
    bool ok = shape.size() == dims.size();
    for (size_t i = 0; ok && i < dims.size(); ++i) ok = dims[i] < 0 || shape[i] == dims[i];
    if (!ok) damaged(fmt::format("/{} has shape [{}], expected [{}]", name, fmt::join(shape, ", "), dims_text(dims)));
    if (d.dtype() != h5::dtype_of<T>())
      damaged(fmt::format("/{} is {}, expected {}", name, h5::dtype_name(d.dtype()), h5::dtype_name(h5::dtype_of<T>())));
    // Before allocating: the values declared must be ones the file stores (at most deflate's
    // best ratio), so a crafted extent of 2^41 rows cannot make inspect allocate terabytes.
    const double declared = std::accumulate(shape.begin(), shape.end(), static_cast<double>(sizeof(T)),
                                            [](double a, int64_t b) { return a * static_cast<double>(b); });
    if (declared > static_cast<double>(limits::kDeflateMaxRatio) * static_cast<double>(d.storage_bytes()))
      damaged(fmt::format("/{} declares [{}] values ({:.3g} bytes) but the file stores only {} bytes of it", name,
                          fmt::join(shape, ", "), declared, d.storage_bytes()));
    return d.read<T>();
  }

  // The one string a [1] string data set holds (the resolved config).
  std::string text(const std::string& name) const {
    const std::vector<int64_t> shape = file_.open_dataset(name).shape();
    if (shape != std::vector<int64_t>{1})
      damaged(fmt::format("/{} has shape [{}], expected [1] (one string)", name, fmt::join(shape, ", ")));
    return file_.read_strings(name).at(0);
  }

  void require(bool ok, const std::string& what) const {
    if (!ok) damaged(what);
  }

 private:
  [[noreturn]] void damaged(const std::string& what) const {
    throw IoError(fmt::format("{}: {}: the run file is damaged or was not written by fedsaf", path_, what));
  }
  static std::string dims_text(const std::vector<int64_t>& dims) {
    std::vector<std::string> parts;
    for (const int64_t d : dims) parts.push_back(d < 0 ? "any" : std::to_string(d));
    return fmt::format("{}", fmt::join(parts, ", "));
  }

  const h5::File& file_;
  std::string path_;
};

template <typename T>
bool all_in(const std::vector<T>& v, T lo, T hi) {
  return std::all_of(v.begin(), v.end(), [&](T x) { return x >= lo && x <= hi; });  // false for NaN
}

void inspect(const std::string& path, bool show_config) {
  h5::silence_hdf5_errors();
  h5::File file = h5::File::open(path, h5::Mode::kRead);
  auto root = file.attrs();
  if (!root.has("schema_version"))
    throw IoError(fmt::format("{}: not a fedsaf run file (no schema_version attribute)", path));
  const std::string version = root.get_string("schema_version");
  if (version.substr(0, version.find('.')) != std::string(kRunSchemaVersion).substr(0, 1))
    throw IoError(fmt::format("{}: run-file schema version {} is not supported (this fedsaf reads {}.x)", path,
                              version, std::string(kRunSchemaVersion).substr(0, 1)));
  // Everything is read and checked before anything is printed.
  const RunFileChecks check(file, path);
  const int64_t clients = check.count("num_clients", 1, limits::kMaxClients);
  const int64_t classes = check.count("num_classes", 1, limits::kMaxClasses);
  const int64_t params = check.count("num_params", 1, std::numeric_limits<int64_t>::max());
  const int64_t shared = check.count("shared_params", 0, params);
  const int64_t world = check.count("world_size", 1, limits::kMaxWorldSize);
  const int64_t planned = check.count("rounds_planned", 1, limits::kMaxRounds);

  const auto sizes = check.values<int64_t>("partition/sizes", {clients, 2});  // [N, 2] flattened: train, test
  check.require(all_in<int64_t>(sizes, 0, std::numeric_limits<int64_t>::max() / (2 * clients)),
                "/partition/sizes holds a negative or impossible sample count");
  std::vector<int64_t> totals;  // [N]
  for (size_t i = 0; i + 1 < sizes.size(); i += 2) totals.push_back(sizes[i] + sizes[i + 1]);
  std::sort(totals.begin(), totals.end());

  // Rounds are numbered from 1 for people; the file holds 0-based indices (io/SCHEMA.md).
  const auto rounds = check.values<int64_t>("metrics/rounds/round", {-1});  // [R]
  const auto n_rounds = static_cast<int64_t>(rounds.size());
  check.require(all_in<int64_t>(rounds, 0, planned - 1),
                fmt::format("/metrics/rounds/round holds a round index outside the {} rounds planned", planned));
  const auto accuracy = check.values<double>("metrics/eval/accuracy", {-1});  // [E]
  const auto eval_rounds = check.values<int64_t>("metrics/eval/round", {static_cast<int64_t>(accuracy.size())});
  check.require(all_in(accuracy, 0.0, 1.0), "/metrics/eval/accuracy holds a value outside [0, 1]");
  check.require(all_in<int64_t>(eval_rounds, 0, planned - 1),
                fmt::format("/metrics/eval/round holds a round index outside the {} rounds planned", planned));
  const auto sent = check.values<int64_t>("timing/bytes_sent", {n_rounds, -1});  // [R, W]; W: most ranks of any segment
  const auto wall = check.values<double>("metrics/rounds/wall_seconds", {n_rounds});  // [R]
  check.require(all_in<int64_t>(sent, 0, std::numeric_limits<int64_t>::max() / std::max<int64_t>(1, static_cast<int64_t>(sent.size()))),
                "/timing/bytes_sent holds a negative or impossible byte count");
  check.require(all_in(wall, 0.0, std::numeric_limits<double>::max()), "/metrics/rounds/wall_seconds holds a negative or non-finite time");

  const std::string status = root.get_string("status"), fedsaf_version = root.get_string("fedsaf_version"),
                    git_commit = root.get_string("git_commit"), algorithm = root.get_string("algorithm"),
                    dataset = root.get_string("dataset"), model = root.get_string("model"),
                    device = root.get_string("device"), method = file.open_group("partition").attrs().get_string("method");
  const int64_t seed = root.get_int("seed");
  const std::string wall_total =
      root.has("wall_seconds") ? fmt::format(", {:.1f} s wall", root.get_double("wall_seconds")) : "";
  const std::string config = show_config ? check.text("config") : "";

  fmt::print("run file      {}\n", path);
  fmt::print("status        {} (schema {}, fedsaf {} git {})\n", status, version, fedsaf_version, git_commit);
  fmt::print("experiment    {} on {} with {}, seed {}, {} clients, {} classes\n", algorithm, dataset, model, seed,
             clients, classes);
  fmt::print("model         {} parameters ({} shared)\n", params, shared);
  fmt::print("ranks         {} on {}\n", world, device);
  fmt::print("partition     {}: client sizes min {} / median {} / max {}, {} samples\n", method, totals.front(),
             totals[totals.size() / 2], totals.back(), std::accumulate(totals.begin(), totals.end(), int64_t{0}));
  fmt::print("progress      {} of {} rounds, {} evaluations\n", n_rounds, planned, accuracy.size());
  if (!accuracy.empty()) {
    const size_t best = static_cast<size_t>(std::max_element(accuracy.begin(), accuracy.end()) - accuracy.begin());
    const size_t k = std::min<size_t>(10, accuracy.size());
    const double mean10 = std::accumulate(accuracy.end() - static_cast<long>(k), accuracy.end(), 0.0) / static_cast<double>(k);
    fmt::print("accuracy      best {} (round {}), last {}, mean of last {} {}\n", percent(accuracy[best]),
               eval_rounds[best] + 1, percent(accuracy.back()), k, percent(mean10));
  }
  if (n_rounds > 0) {
    const double total_wall = std::accumulate(wall.begin(), wall.end(), 0.0);
    fmt::print("time          {:.1f} s in rounds ({:.3f} s/round){}\n", total_wall, total_wall / static_cast<double>(n_rounds),
               wall_total);
    fmt::print("traffic       {:.3f} MB sent per round (all ranks)\n",
               static_cast<double>(std::accumulate(sent.begin(), sent.end(), int64_t{0})) / 1e6 / static_cast<double>(n_rounds));
  }
  if (show_config) fmt::print("\n{}", config);
}

}  // namespace

void add_inspect_command(CLI::App& root) {
  auto* cmd = root.add_subcommand("inspect", "Summarise a run file (config, partition, accuracy, time, bytes)");
  auto path = std::make_shared<std::string>();
  auto show_config = std::make_shared<bool>(false);
  cmd->add_option("run_file", *path, "run.h5 written by `fedsaf run`")->required();
  cmd->add_flag("--config", *show_config, "Also print the resolved config");
  cmd->callback([path, show_config] { inspect(*path, *show_config); });
}

}  // namespace fedsaf::app
