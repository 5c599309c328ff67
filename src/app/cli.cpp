#include "app/cli.hpp"

#include <hdf5.h>
#include <mpi.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <filesystem>
#include <iostream>
#include <new>

#include "app/commands.hpp"
#include "core/error_text.hpp"
#include "core/errors.hpp"
#include "fedsaf/build_info.hpp"
#include "sim/gpu_info.hpp"

namespace fedsaf::app {

namespace {
std::string version_text() {
  char mpi_version[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(mpi_version, &length);  // allowed before MPI_Init
  std::string mpi(mpi_version, static_cast<size_t>(length));
  mpi = mpi.substr(0, mpi.find_first_of(",\n"));
  unsigned h5_major = 0, h5_minor = 0, h5_release = 0;
  H5get_libversion(&h5_major, &h5_minor, &h5_release);
  return fmt::format(
      "fedsaf {} (git {}, {} build)\n{}\n{}\n{}\nHDF5 {}.{}.{} (parallel)\n", build::kVersion, build::kGitCommit,
      build::kBuildType, torch_build_text(), gpus_text(), mpi, h5_major, h5_minor, h5_release);
}

// The first word that is not an option must name a sub-command: CLI11 would take `fedsaf plan --help`
// for the main help (exit 0) and `fedsaf rnu x.toml` for stray arguments. Returns "" when it does.
std::string unknown_command_error(const CLI::App& root, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return "";
  const std::string word = argv[1];
  std::string names;
  for (const CLI::App* cmd : root.get_subcommands([](const CLI::App*) { return true; })) {
    if (cmd->get_name() == word) return "";
    names += (names.empty() ? "" : ", ") + cmd->get_name();
  }
  return fmt::format("unknown command '{}'; the commands are: {} (fedsaf --help says more)", word, names);
}
}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App root{"fedsaf: federated learning simulation on HPC clusters (FedSAF, FedAMP, FedAvg, ...)"};
  root.require_subcommand(0, 1);
  bool show_version = false;
  root.add_flag("--version", show_version, "Print the version, git commit and library versions");
  add_config_command(root);
  add_partition_command(root);
  add_models_command(root);
  add_convert_command(root);
  int exit_code = kExitOk;
  add_run_command(root, exit_code);
  add_plan_command(root, exit_code);
  add_inspect_command(root);
  if (const std::string unknown = unknown_command_error(root, argc, argv); !unknown.empty()) {
    std::cerr << "fedsaf: error: " << unknown << "\n";
    return kExitUsage;
  }
  try {
    root.parse(argc, argv);
    if (show_version) {
      std::cout << version_text();
    } else if (root.get_subcommands().empty()) {
      std::cout << root.help();
      return kExitUsage;
    }
    return exit_code;
  } catch (const CLI::CallForHelp& e) {
    return root.exit(e);
  } catch (const CLI::ParseError& e) {
    return root.exit(e) == 0 ? kExitOk : kExitUsage;
  } catch (const Error& e) {
    std::cerr << "fedsaf: error: " << e.what() << "\n";
    return kExitFailure;
  } catch (const std::filesystem::filesystem_error& e) {
    std::cerr << "fedsaf: error: " << error_text(e) << "\n";
    return kExitFailure;
  } catch (const std::bad_alloc& e) {
    std::cerr << "fedsaf: error: " << error_text(e) << "\n";
    return kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << "fedsaf: internal error: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace fedsaf::app
