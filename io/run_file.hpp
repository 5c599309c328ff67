#pragma once
// The HDF5 run file: one per run, written collectively by every rank through parallel HDF5.
// Layout, dtypes and units: io/SCHEMA.md (tests keep the two in sync); the per-round, per-evaluation
// and timing columns are declared once, in io/run_columns.hpp.
#include <mpi.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/h5.hpp"
#include "core/diagnostics.hpp"
#include "io/run_records.hpp"

namespace fedsaf {

inline constexpr const char* kRunSchemaVersion = "1.0";

std::string utc_now();  // "2026-11-26T01:02:03Z", for file attributes
// Rows per chunk of a per-client table ([E, N] float64, /metrics/eval/client_accuracy).
int64_t per_client_chunk_rows(int64_t num_clients);

struct RunFileInfo {
  std::string config_toml;  // the resolved config
  std::string algorithm, device, dataset, model;
  uint64_t seed = 0;
  int world_size = 1;
  int64_t num_clients = 0, num_classes = 0, num_params = 0, shared_params = 0, rounds = 0;
  // One entry per rank (the same vectors on every rank): its host and its device ("cpu", "cuda:0").
  std::vector<std::string> rank_hostnames, rank_devices;
};

// Where a rank's client state lives (algo/client_memory.hpp's tiers), bytes.
struct StateBytes {
  int64_t device = 0, host = 0, disk = 0;
  int64_t device_budget = -1;  // -1: no limit
};

class RunFile {
 public:
  enum class Open {
    kCreate,    // create (truncate) and write the root attributes and /config
    kContinue,  // continue a run file restored from a checkpoint: drop /checkpoint, count the rows
                // written so far, update world_size/device/rounds_planned/config, resumes += 1
  };
  // Collective on comm.
  RunFile(const std::string& path, MPI_Comm comm, const RunFileInfo& info, Open open = Open::kCreate);
  // Collective: the evaluations written so far (to continue the run's summary).
  std::vector<EvalRecord> read_evals() const;
  h5::File& file() { return *file_; }
  // Collective. timing: this rank's; the rest is the same on every rank.
  void append_round(const RoundRecord& record);
  // Collective: this rank's I/O seconds of an already appended round (known only after writing it).
  void set_io_seconds(int64_t round_row, double seconds);
  // Collective. Every rank writes the accuracy of the clients it hosts.
  void append_eval(const EvalRecord& record, const std::vector<int64_t>& hosted);
  // Collective: round's diagnostics, combined over ranks (the same on every rank), each appended
  // under its path; data sets are created on first use (SCHEMA.md, "Algorithm diagnostics").
  void append_diagnostics(int64_t round, const Diagnostics& combined);
  // Collective: clients were re-placed after round `round`; rank_of: [N] each client's rank now.
  void append_replacement(int64_t round, const std::vector<int>& rank_of);
  // Collective: where this rank's client state lives now, into /ranks.
  void set_client_state(const StateBytes& bytes);
  // Collective: the seconds before the first round of this segment (the same on every rank).
  void set_setup_seconds(double seconds);
  // Collective: summary attributes, status = complete; closes the file.
  void finish(const RunSummary& summary, double wall_seconds);

 private:
  void continue_file(const std::string& path, MPI_Comm comm, const RunFileInfo& info);
  void write_ranks(const RunFileInfo& info);
  // Collective: resizes the data set at path to row + 1 rows and writes row `row` from rank 0.
  template <typename T> void append_shared_value(const std::string& path, int64_t row, const T* value);
  void ensure_parent(const std::string& path);  // creates the groups above path
  // Creates an extendible data set (first dimension 0) with its unit unless it exists.
  void ensure_series(const std::string& path, h5::DType type, const std::vector<int64_t>& shape, int64_t chunk_rows,
                     const std::string& unit);
  int64_t next_row(const std::string& path);  // the row the next append to path writes
  std::unique_ptr<h5::File> file_;
  int rank_ = 0, world_size_ = 1;
  int64_t num_clients_ = 0;
  int64_t rounds_written_ = 0, evals_written_ = 0;
  std::map<std::string, int64_t> rows_written_by_path_;  // diagnostics data sets → rows
};

}  // namespace fedsaf
