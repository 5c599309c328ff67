// `fedsaf run [CONFIG] [--set K=V]... [--out DIR] [--quiet] [--log-dir DIR] [--fresh|--resume]
// [--force]`: one federated experiment across the ranks of MPI_COMM_WORLD (start it with
// mpirun/srun), writing DIR/run.h5 and checkpoints in DIR/checkpoints. It resumes from the newest
// usable checkpoint there unless --fresh; a stop signal checkpoints and exits with status 75.
#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join ({fmt} ≥ 11 moved it here)

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include "app/cli.hpp"
#include "app/commands.hpp"
#include "app/config_args.hpp"
#include "core/errors.hpp"
#include "io/h5.hpp"
#include "io/run_file_marker.hpp"
#include "mpi/mpi_communicator.hpp"
#include "mpi/environment.hpp"
#include "mpi/test_hooks.hpp"  // check_test_hooks
#include "sim/checkpoint.hpp"
#include "sim/engine.hpp"
#include "sim/stop_signal.hpp"

namespace fedsaf::app {

namespace {

struct RunArgs {
  ConfigArgs config;
  std::string out_dir;
  std::string log_dir;
  bool quiet = false;
  bool force = false;
  bool fresh = false;   // never resume
  bool resume = false;  // require a checkpoint
};

// Keys that may differ between a checkpoint's config and the resuming one: they change how long
// the run goes on, how often it reports or checkpoints, or where, never what it computes (the
// device keys only within the stated CPU/GPU tolerance: a run may move between CPU and GPU).
const std::set<std::string> kResumableKeys = {
    "run.rounds",      "run.eval_every",        "run.checkpoint_every", "run.checkpoint_keep",
    "run.out_dir",     "run.threads_per_rank",  "attention.every",      "run.device",
    "run.max_ranks_per_gpu", "run.device_state_mb", "run.cuda_aware_mpi"};

// Refuses a checkpoint whose config differs in any other key, naming every such key.
void check_resumable(const CheckpointMeta& meta, const Config& config) {
  const Config saved = parse_config_text(meta.config_toml, meta.path + " (its config)");
  std::vector<std::string> refused;
  for (const std::string& line : config_diff(saved, config))
    if (!kResumableKeys.count(line.substr(0, line.find(':')))) refused.push_back(line);
  if (!refused.empty())
    throw ConfigError(fmt::format("{}: the config differs from the checkpoint's in key(s) that change the results:\n  "
                                  "{}\nrun with the checkpoint's values, or start over with --fresh --force",
                                  meta.path, fmt::join(refused, "\n  ")));
  if (meta.rounds_done > config.run.rounds)
    throw ConfigError(fmt::format("{}: it has {} rounds done, more than run.rounds = {}", meta.path, meta.rounds_done,
                                  config.run.rounds));
}

// What an existing OUT/run.h5 is, to decide whether starting over may replace it.
enum class ExistingRunFile {
  unfinished,  // a fedsaf run file whose run never finished (it died before its first checkpoint)
  finished,    // a fedsaf run file of a complete run
  foreign,     // anything fedsaf cannot prove it wrote: another program's file, text, a damaged file
};

ExistingRunFile classify_run_file(const std::filesystem::path& run_file) {
  try {
    const h5::File file = h5::File::open(run_file.string(), h5::Mode::kRead);
    const auto attrs = file.attrs();
    if (!attrs.has("schema_version") || !attrs.has("status")) return ExistingRunFile::foreign;
    return attrs.get_string("status") == "complete" ? ExistingRunFile::finished : ExistingRunFile::unfinished;
  } catch (const std::exception&) {
    return ExistingRunFile::foreign;
  }
}

// Collective: the checkpoint to resume from, or nullopt to start at round 0 (see RunArgs).
// Rank 0 searches and verifies; every rank then reads the chosen file's metadata.
std::optional<CheckpointMeta> choose_checkpoint(const RunArgs& args, const Config& config, Communicator& comm) {
  const int rank = comm.rank();
  const std::string dir = checkpoint_dir(config.run.out_dir);
  std::string chosen;
  agreed(
      [&] {
        if (rank != 0 || args.fresh) return;
        const auto warn = [](const std::string& line) { fmt::print(stderr, "fedsaf: warning: {}\n", line); };
        const std::optional<CheckpointMeta> meta = find_checkpoint(dir, warn);
        if (!meta && args.resume) throw Error(fmt::format("--resume: no checkpoint in {}", dir));
        if (meta) {
          check_resumable(*meta, config);
          chosen = meta->path;
        }
      },
      comm);
  chosen = broadcast_string(chosen, 0, comm);
  if (chosen.empty()) return std::nullopt;
  std::optional<CheckpointMeta> meta;
  // find_checkpoint on rank 0 has verified the bytes; the others only read the metadata.
  agreed([&] { meta = read_checkpoint_meta(chosen, /*verify_bytes=*/false); }, comm);
  return meta;
}

int run_command(const RunArgs& args) {
  Environment mpi;
  MpiCommunicator comm(MPI_COMM_WORLD);
  // Errors every rank meets at the same point (a bad config, a missing data file) end the job
  // cleanly with one message (agreed); an error on some ranks only aborts the whole job through
  // MPI_Abort, so no rank is left waiting in a collective.
  const int status = run_guarded(
      [&] {
        Config config;
        agreed(
            [&] {
              if (args.fresh && args.resume) throw Error("--fresh and --resume exclude each other");
              config = resolve_config(args.config);
              if (!args.out_dir.empty()) config.run.out_dir = args.out_dir;
              check_test_hooks(comm.size());  // a malformed hook would otherwise never fire, silently
            },
            comm);
        const std::optional<CheckpointMeta> resume = choose_checkpoint(args, config, comm);
        const auto run_file = std::filesystem::path(config.run.out_dir) / "run.h5";
        const std::string checkpoints = checkpoint_dir(config.run.out_dir);
        agreed(
            [&] {
              if (comm.rank() != 0) return;
              // A marker that names no file here now (its run failed before creating run.h5, or the
              // file was replaced since) says nothing: RunFile marks the file it creates.
              if (!marked_unfinished(run_file)) clear_unfinished(run_file);
              // Starting over must not silently destroy a finished run, a file fedsaf did not write,
              // or checkpoints. A fedsaf run that died before its first checkpoint simply starts again.
              const std::filesystem::file_status existing = std::filesystem::status(run_file);
              if (!resume && std::filesystem::exists(existing)) {
                if (!std::filesystem::is_regular_file(existing))
                  throw Error(run_file.string() + ": not a regular file (a folder, FIFO, device or socket): choose another --out");
                if (!args.force) {
                  const ExistingRunFile kind = classify_run_file(run_file);
                  if (args.fresh || kind == ExistingRunFile::finished)
                    throw Error(run_file.string() + " already exists: choose another --out, or pass --force to overwrite it");
                  const bool ours_unreadable = kind == ExistingRunFile::foreign && marked_unfinished(run_file);
                  if (kind == ExistingRunFile::foreign && !ours_unreadable)
                    throw Error(run_file.string() + " exists and is not a fedsaf run file fedsaf can read (another "
                                "program's file, or a damaged one): choose another --out, or pass --force to overwrite it");
                  fmt::print(stderr, "fedsaf: warning: {} belongs to a run stopped before its first checkpoint{}: starting over\n",
                             run_file.string(), ours_unreadable ? " (killed while writing it: unreadable)" : "");
                }
              }
              if (!resume && args.fresh && std::filesystem::exists(checkpoints)) {
                if (!args.force) throw Error(checkpoints + " holds checkpoints: pass --force with --fresh to discard them");
                std::filesystem::remove_all(checkpoints);
              }
              std::filesystem::create_directories(config.run.out_dir);
              if (!args.log_dir.empty()) std::filesystem::create_directories(args.log_dir);
              const std::filesystem::path probe = std::filesystem::path(config.run.out_dir) / ".fedsaf-write-test";
              if (!std::ofstream(probe))
                throw Error(probe.string() + ": cannot be written (is the output folder writable?)");
              std::filesystem::remove(probe);
            },
            comm);
        comm.barrier();  // the output folder exists before any rank opens files in it
        RunOptions options;
        options.run_file = run_file.string();
        options.quiet = args.quiet;
        options.log_dir = args.log_dir;
        options.checkpoint_dir = checkpoints;
        options.resume = resume;
        install_stop_handlers();
        const RunResult result = run_experiment(config, options, comm);
        if (result.stopped) return kExitStoppedResumable;
        return kExitOk;
      },
      MPI_COMM_WORLD);  // rank 0 of the world prints an agreed error
  if (h5::file_close_failed()) {  // skip MPI_Finalize's HDF5 clean-up, which can crash then
    std::fflush(nullptr);
    std::_Exit(status);
  }
  return status;
}

}  // namespace

void add_run_command(CLI::App& root, int& exit_code) {
  auto* cmd = root.add_subcommand("run", "Run one federated experiment (under mpirun/srun for several ranks)");
  auto args = std::make_shared<RunArgs>();
  add_config_args(*cmd, args->config);
  cmd->add_option("--out", args->out_dir, "Output folder for run.h5 (default: run.out_dir)");
  cmd->add_option("--log-dir", args->log_dir, "Write per-rank logs (rank-R.log) into this folder");
  cmd->add_flag("--quiet", args->quiet, "No progress lines");
  cmd->add_flag("--force", args->force, "Overwrite an existing DIR/run.h5 when not resuming (with --fresh: discard checkpoints)");
  cmd->add_flag("--fresh", args->fresh, "Start at round 0 even if DIR/checkpoints holds a checkpoint");
  cmd->add_flag("--resume", args->resume, "Require a checkpoint in DIR/checkpoints to resume from");
  cmd->callback([args, &exit_code] { exit_code = run_command(*args); });
}

}  // namespace fedsaf::app
