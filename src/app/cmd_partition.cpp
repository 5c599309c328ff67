// `fedsaf partition [CONFIG] [--set K=V]... [--out FILE.h5 [--force]] [--max-rows N]`: loads the data set
// the config names, partitions it exactly as a run would, and prints the per-client table and a
// summary; --out also writes the partition to a standalone HDF5 file (/partition as in run files).
#include <filesystem>
#include <iostream>
#include <memory>
#include <system_error>

#include <fmt/format.h>

#include "app/commands.hpp"
#include "app/config_args.hpp"
#include "core/errors.hpp"
#include "data/dataset.hpp"
#include "data/partition.hpp"
#include "data/partition_table.hpp"
#include "fedsaf/build_info.hpp"
#include "io/h5.hpp"
#include "io/output_file.hpp"

namespace fedsaf::app {

namespace {

struct PartitionArgs {
  ConfigArgs config;
  std::string out;
  bool force = false;
  int64_t max_rows = 100;
};

namespace fs = std::filesystem;

// --out may replace an existing file only with --force, and never the data set being read.
void check_out(const std::string& out, bool force, const std::string& data_path) {
  check_output_path(out, force, "--out");
  std::error_code ec;
  if (!data_path.empty() && fs::exists(out, ec) && fs::equivalent(out, data_path, ec))
    throw IoError(fmt::format("{}: is the data set being read (data.path = {}); choose another --out", out, data_path));
}

void write_file(const std::string& filename, bool force, const Config& config, const Dataset& data, const Partition& p) {
  // Written under a temporary name and renamed when complete: an existing file is only replaced
  // by a whole one.
  const std::string partial = claim_temporary(filename, ".partial", force);
  try {
    h5::silence_hdf5_errors();
    h5::File file = h5::File::open(partial, h5::Mode::kCreate);
    auto attrs = file.attrs();
    attrs.set("fedsaf_version", std::string(build::kVersion));
    attrs.set("git_commit", std::string(build::kGitCommit));
    attrs.set("config", to_toml(config));
    attrs.set("seed", static_cast<int64_t>(config.run.seed));
    attrs.set("dataset", data.name);
    attrs.set("num_samples", data.size());
    h5::Group group = file.create_group("partition");
    write_partition_h5(p, group);
    file.close();
  } catch (...) {
    std::error_code ignored;
    fs::remove(partial, ignored);
    throw;
  }
  std::error_code ec;
  fs::rename(partial, filename, ec);
  if (ec) throw IoError(fmt::format("{}: cannot rename from {}: {}", filename, partial, ec.message()));
}

}  // namespace

void add_partition_command(CLI::App& root) {
  auto* cmd = root.add_subcommand("partition", "Partition the config's data set over its clients and print the split");
  auto args = std::make_shared<PartitionArgs>();
  add_config_args(*cmd, args->config);
  cmd->add_option("--out", args->out, "Also write the partition to this HDF5 file (/partition as in run files)")
      ->type_name("FILE.h5");
  cmd->add_flag("--force", args->force, "Overwrite the --out file if it exists (never the data set being read)");
  cmd->add_option("--max-rows", args->max_rows, "Print at most N client rows (0 = all)")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->callback([args] {
    const Config config = resolve_config(args->config);
    if (!args->out.empty()) check_out(args->out, args->force, config.data.path);  // before the long part
    const Dataset data = load_dataset(config);
    const Partition p = make_partition(config.partition, config.run.seed, config.run.clients, data.labels(),
                                       data.groups(), data.num_classes);
    std::cout << format_partition_table(p, args->max_rows) << "\n"
              << format_partition_summary(p, partition_stats(p), config.partition, data.name, data.size());
    if (!args->out.empty()) {
      write_file(args->out, args->force, config, data, p);
      std::cout << fmt::format("written      {}\n", args->out);
    }
  });
}

}  // namespace fedsaf::app
