#pragma once
// Checkpoints: everything a run needs to continue exactly, in one HDF5 file per checkpoint,
// DIR/checkpoints/ckpt-RRRRRR.h5 (RRRRRR = rounds completed). Layout (io/SCHEMA.md, "Checkpoint
// files"): a byte copy of the run file as it was after that round (metrics, timing, attention,
// partition, config), plus /checkpoint with the resume point, the config and its hash, and the
// algorithm's state (src/algo/state.hpp); every rank writes its own clients' rows collectively.
//
// Crash safety: written to .ckpt-RRRRRR.h5.tmp, the complete marker set last, closed, a CRC-32
// trailer of every byte appended, fsync'd, then renamed by rank 0 once every rank reported
// success. A reader trusts a file only if its trailer, CRC, marker and format all check out.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace fedsaf {

class Algorithm;
class ClientStateStore;
class Communicator;

inline constexpr const char* kCheckpointFormat = "fedsaf-checkpoint/1";

struct CheckpointMeta {
  std::string path;           // the checkpoint file
  int64_t rounds_done = 0;    // rounds completed: the run continues with round rounds_done
  double elapsed_seconds = 0; // wall time of the run up to the checkpoint (all segments)
  std::string config_toml;    // the resolved config the run was started with
  int world_size = 1;         // ranks that wrote it
};

std::string checkpoint_dir(const std::string& out_dir);  // out_dir/checkpoints

// Collective. run_file must be flushed and hold the rounds so far. Writes every client state of
// `states` and the algorithm's globals (algo/algorithm_state.hpp). Keeps the newest `keep`
// complete checkpoints. Any failure (unwritable folder, disk full) throws AgreedError on every
// rank and leaves the earlier checkpoints as they were. Returns the new checkpoint's path.
std::string write_checkpoint(const std::string& dir, const std::string& run_file, const CheckpointMeta& meta,
                             const Algorithm& algorithm, const ClientStateStore& states, int64_t keep,
                             Communicator& comm);

// One process: checks one checkpoint file (trailer, CRC, HDF5, marker, format) and reads its
// metadata; throws Error saying what is wrong with it. verify_bytes = false skips the trailer and
// CRC (for ranks reading a file that rank 0 has just verified).
CheckpointMeta read_checkpoint_meta(const std::string& path, bool verify_bytes = true);

// One process: the newest usable checkpoint in dir. Damaged or unfinished files are reported
// through warn (one line each, naming the file) and skipped. nullopt when dir holds no
// checkpoint at all; throws Error when it holds some but none is usable (never silently restart).
std::optional<CheckpointMeta> find_checkpoint(const std::string& dir,
                                              const std::function<void(const std::string&)>& warn);

// Collective: every rank reads the state of the clients it hosts now (`hosted`, any rank count)
// into `states` and the algorithm's globals, after algorithm.init(). Throws IoError, naming the
// file and the state, when a state holds a client id ≥ num_clients.
void load_checkpoint_state(const std::string& path, Algorithm& algorithm, ClientStateStore& states,
                           const std::vector<int64_t>& hosted, int64_t num_clients);

// One process: run_file ← the run-file part of the checkpoint (written to a temporary name and
// renamed). The caller reopens it and drops /checkpoint.
void restore_run_file(const std::string& checkpoint, const std::string& run_file);

}  // namespace fedsaf
