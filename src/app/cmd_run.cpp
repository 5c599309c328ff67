// `fedsaf run [CONFIG] [--set K=V]... [--out DIR] [--quiet] [--log-dir DIR]`: one federated
// experiment across the ranks of MPI_COMM_WORLD (start it with mpirun/srun), writing DIR/run.h5.
#include <fmt/format.h>

#include <filesystem>

#include "app/cli.hpp"
#include "app/commands.hpp"
#include "app/config_args.hpp"
#include "core/errors.hpp"
#include "mpi/communicator.hpp"
#include "mpi/environment.hpp"
#include "sim/engine.hpp"

namespace fedsaf::app {

namespace {

struct RunArgs {
  ConfigArgs config;
  std::string out_dir;
  std::string log_dir;
  bool quiet = false;
  bool force = false;
};

int run_command(const RunArgs& args) {
  Environment mpi;
  Communicator comm(MPI_COMM_WORLD);
  // Errors every rank meets at the same point (a bad config, a missing data file) end the job
  // cleanly with one message (agreed); an error on some ranks only aborts the whole job through
  // MPI_Abort, so no rank is left waiting in a collective.
  return run_guarded(
      [&] {
        Config config;
        agreed(
            [&] {
              config = resolve_config(args.config);
              if (!args.out_dir.empty()) config.run.out_dir = args.out_dir;
              const auto run_file = std::filesystem::path(config.run.out_dir) / "run.h5";
              if (std::filesystem::exists(run_file) && !args.force)
                throw Error(run_file.string() + " already exists: choose another --out, or pass --force to overwrite it");
              if (comm.rank() == 0) {
                std::filesystem::create_directories(config.run.out_dir);
                if (!args.log_dir.empty()) std::filesystem::create_directories(args.log_dir);
              }
            },
            comm.raw());
        comm.barrier();  // the output folder exists before any rank opens files in it
        RunOptions options;
        options.run_file = (std::filesystem::path(config.run.out_dir) / "run.h5").string();
        options.quiet = args.quiet;
        options.log_dir = args.log_dir;
        run_experiment(config, options, comm);
        return kExitOk;
      },
      comm.raw());
}

}  // namespace

void add_run_command(CLI::App& root, int& exit_code) {
  auto* cmd = root.add_subcommand("run", "Run one federated experiment (under mpirun/srun for several ranks)");
  auto args = std::make_shared<RunArgs>();
  add_config_args(*cmd, args->config);
  cmd->add_option("--out", args->out_dir, "Output folder for run.h5 (default: run.out_dir)");
  cmd->add_option("--log-dir", args->log_dir, "Write per-rank logs (rank-R.log) into this folder");
  cmd->add_flag("--quiet", args->quiet, "No progress lines");
  cmd->add_flag("--force", args->force, "Overwrite an existing DIR/run.h5");
  cmd->callback([args, &exit_code] { exit_code = run_command(*args); });
}

}  // namespace fedsaf::app
