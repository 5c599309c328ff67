// fedsaf: no-torch
// Fuzz target: `fedsaf inspect RUN.h5` (src/app/cmd_inspect.cpp), which summarises a run file.
// Input: a flags byte (bit 0: --config, which also prints the stored config), then an HDF5 file
// description (support/h5_builder.hpp) over the names inspect reads. Its report goes to /dev/null.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "app/commands.hpp"
#include "support/byte_reader.hpp"
#include "support/expected.hpp"
#include "support/h5_builder.hpp"
#include "support/temp_files.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (!std::freopen("/dev/null", "w", stdout)) return 1;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedsaf;
  static const fuzz::H5Names names{
      {"partition", "partition/sizes", "metrics/rounds/round", "metrics/rounds/wall_seconds", "metrics/eval/accuracy",
       "metrics/eval/round", "timing/bytes_sent", "config"},
      {"schema_version", "status", "fedsaf_version", "git_commit", "algorithm", "dataset", "model", "device", "seed",
       "num_clients", "num_classes", "num_params", "shared_params", "world_size", "rounds_planned", "wall_seconds",
       "method"}};
  fuzz::ByteReader in(data, size);
  const bool show_config = in.u8() & 1;
  const std::string path = fuzz::fresh_temp_dir() + "/run.h5";
  fuzz::build_h5_file(path, in, names);

  CLI::App app("fedsaf");
  app::add_inspect_command(app);
  std::vector<std::string> args = {"inspect", path};
  if (show_config) args.push_back("--config");
  std::vector<const char*> argv = {"fedsaf"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  fuzz::accepts([&] { app.parse(static_cast<int>(argv.size()), argv.data()); });
  return 0;
}
