// fedsaf: no-torch
// `fedsaf inspect RUN.h5`: the summary of a run file without Python: config, partition
// statistics, best / last / mean-of-last-10 accuracy, wall time and bytes moved.
#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <numeric>

#include "app/commands.hpp"
#include "core/errors.hpp"
#include "io/h5.hpp"
#include "io/run_file.hpp"

namespace fedsaf::app {

namespace {

std::string percent(double x) { return fmt::format("{:.2f}%", 100.0 * x); }

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
  fmt::print("run file      {}\n", path);
  fmt::print("status        {} (schema {}, fedsaf {} git {})\n", root.get_string("status"), version,
             root.get_string("fedsaf_version"), root.get_string("git_commit"));
  fmt::print("experiment    {} on {} with {}, seed {}, {} clients, {} classes\n", root.get_string("algorithm"),
             root.get_string("dataset"), root.get_string("model"), root.get_int("seed"), root.get_int("num_clients"),
             root.get_int("num_classes"));
  fmt::print("model         {} parameters ({} shared)\n", root.get_int("num_params"), root.get_int("shared_params"));
  fmt::print("ranks         {} on {}\n", root.get_int("world_size"), root.get_string("device"));

  const auto sizes = file.open_dataset("partition/sizes").read<int64_t>();  // [N, 2] flattened
  std::vector<int64_t> totals;
  for (size_t i = 0; i + 1 < sizes.size(); i += 2) totals.push_back(sizes[i] + sizes[i + 1]);
  if (!totals.empty()) {
    std::vector<int64_t> sorted = totals;
    std::sort(sorted.begin(), sorted.end());
    fmt::print("partition     {}: client sizes min {} / median {} / max {}, {} samples\n",
               file.open_group("partition").attrs().get_string("method"), sorted.front(), sorted[sorted.size() / 2],
               sorted.back(), std::accumulate(sorted.begin(), sorted.end(), int64_t{0}));
  }

  const auto rounds = file.open_dataset("metrics/rounds/round").read<int64_t>();
  const auto accuracy = file.open_dataset("metrics/eval/accuracy").read<double>();
  const auto eval_rounds = file.open_dataset("metrics/eval/round").read<int64_t>();
  fmt::print("progress      {} of {} rounds, {} evaluations\n", rounds.size(), root.get_int("rounds_planned"),
             accuracy.size());
  if (!accuracy.empty()) {
    const size_t best = static_cast<size_t>(std::max_element(accuracy.begin(), accuracy.end()) - accuracy.begin());
    const size_t k = std::min<size_t>(10, accuracy.size());
    const double mean10 = std::accumulate(accuracy.end() - static_cast<long>(k), accuracy.end(), 0.0) / static_cast<double>(k);
    fmt::print("accuracy      best {} (round {}), last {}, mean of last {} {}\n", percent(accuracy[best]),
               eval_rounds[best] + 1, percent(accuracy.back()), k, percent(mean10));
  }
  const auto sent = file.open_dataset("timing/bytes_sent").read<int64_t>();
  const auto wall = file.open_dataset("metrics/rounds/wall_seconds").read<double>();
  const double total_wall = std::accumulate(wall.begin(), wall.end(), 0.0);
  if (!rounds.empty()) {
    fmt::print("time          {:.1f} s in rounds ({:.3f} s/round){}\n", total_wall, total_wall / static_cast<double>(rounds.size()),
               root.has("wall_seconds") ? fmt::format(", {:.1f} s wall", root.get_double("wall_seconds")) : "");
    fmt::print("traffic       {:.3f} MB sent per round (all ranks)\n",
               static_cast<double>(std::accumulate(sent.begin(), sent.end(), int64_t{0})) / 1e6 / static_cast<double>(rounds.size()));
  }
  if (show_config) fmt::print("\n{}", file.read_strings("config").at(0));
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
