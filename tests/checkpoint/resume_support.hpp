#pragma once
// Shared by the resume tests (tests/checkpoint) and the GPU tests (tests/gpu): a folder every rank
// agrees on, a run into a folder with checkpoints, and the newest usable checkpoint of a folder.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mpi/communicator.hpp"
#include "mpi/environment.hpp"
#include "sim/checkpoint.hpp"
#include "sim/engine.hpp"
#include "tests/common/test_support.hpp"

namespace fedsaf::test {

namespace fs = std::filesystem;

// A folder every rank agrees on (rank 0 creates it).
class SharedDir {
 public:
  explicit SharedDir(Communicator& comm) : comm_(comm) {
    if (comm.rank() == 0) dir_ = std::make_unique<TempDir>("fedsaf-resume");
    path_ = broadcast_string(dir_ ? dir_->str() : "", 0, comm);
  }
  ~SharedDir() { comm_.barrier(); }  // nobody still uses it when rank 0 removes it
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  Communicator& comm_;
  std::unique_ptr<TempDir> dir_;
  std::string path_;
};

inline RunResult run_into(const Config& config, const std::string& out, Communicator& comm,
                          std::optional<CheckpointMeta> resume = std::nullopt) {
  RunOptions options;
  options.quiet = true;
  options.run_file = out + "/run.h5";
  options.checkpoint_dir = checkpoint_dir(out);
  options.resume = std::move(resume);
  if (comm.rank() == 0) fs::create_directories(out);
  comm.barrier();
  return run_experiment(config, options, comm);
}

// Collective: the newest usable checkpoint in out (rank 0 looks; every rank gets its metadata).
inline std::optional<CheckpointMeta> newest(const std::string& out, Communicator& comm,
                                            std::vector<std::string>* warnings = nullptr) {
  std::string path;
  if (comm.rank() == 0) {
    const auto meta = find_checkpoint(checkpoint_dir(out), [&](const std::string& w) {
      if (warnings) warnings->push_back(w);
    });
    if (meta) path = meta->path;
  }
  path = broadcast_string(path, 0, comm);
  if (path.empty()) return std::nullopt;
  return read_checkpoint_meta(path, false);
}

}  // namespace fedsaf::test
