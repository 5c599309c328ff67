#pragma once
// Named per-round diagnostics of an algorithm (FedSAF's attention rows and Fisher statistics, ...).
// The algorithm fills them with this rank's values; the engine combines every rank's
// (sim/combine_diagnostics.hpp) and the run file stores each by its path (io/SCHEMA.md,
// "Algorithm diagnostics"), so that a new diagnostic touches only the algorithm that has it.
// Torch-free: algorithms, the engine and the run file all use it.
#include <cstdint>
#include <string>
#include <vector>

namespace fedsaf {

// How the ranks' values of one diagnostic combine.
enum class Across {
  same,  // already the same on every rank (e.g. computed by a collective)
  sum,
  max,
};

// One value per round, stored as [R] under `path` (e.g. "attention/rows").
struct ScalarDiagnostic {
  std::string path;
  std::string unit;  // the data set's `unit` attribute
  bool integer = false;  // int64 in the file (else float64)
  Across across = Across::same;
  double value = 0;
};

// Per named part (e.g. each shared parameter tensor), statistics over many values (e.g. a Fisher
// diagonal per trained client): a sum, count and max, this rank's (across = sum: summed and
// maximised over ranks) or already every rank's (across = same); combined into a mean and a max
// per part. Stored as `{group}/{names_path}` [T], `{group}/mean` [R, T] and
// `{group}/max` [R, T] (NaN where count is 0).
struct PartStatistics {
  std::string group;       // e.g. "fisher"
  std::string names_path;  // where the part names go inside the group, e.g. "tensors"
  std::string of;          // what the values are, for the units ("mean of {of} in the round")
  std::vector<std::string> names;       // [T]
  Across across = Across::sum;          // sum: this rank's values (max over nothing: 0 or −∞); same: all ranks'
  std::vector<double> sum, count, max;  // [T] each
  std::vector<double> mean;             // [T] filled by combining: sum / count, NaN where count is 0
};

// Rows of an N × width table, one per client whose row some rank computed in the round; combined
// into the whole table (NaN rows for clients without one) and stored as one more entry of
// `{path}` [A, N, width] (width 1: [A, N]), with its round in `{path}_round` [A], in the rounds
// where `store` is true. The data sets exist (possibly empty) from the first round reported.
struct ClientRows {
  std::string path;  // e.g. "attention/xi"
  std::string unit;
  int64_t width = 1;
  bool store = false;            // the same on every rank
  std::vector<int64_t> clients;  // [k] this rank's rows' clients, distinct
  std::vector<double> values;    // [k × width] row-major; after combining [N × width] (float32 in the file);
                                 // algorithms may leave clients and values empty where store is false
};

struct Diagnostics {
  std::vector<ScalarDiagnostic> scalars;
  std::vector<PartStatistics> parts;
  std::vector<ClientRows> client_rows;
  std::string note;  // appended to rank 0's progress line, e.g. "ξ-guard 3/20"; may be empty
  bool empty() const { return scalars.empty() && parts.empty() && client_rows.empty(); }
  // The entry with that path (group for parts), or nullptr.
  const ScalarDiagnostic* scalar(const std::string& path) const { return find(scalars, &ScalarDiagnostic::path, path); }
  const PartStatistics* part(const std::string& group) const { return find(parts, &PartStatistics::group, group); }
  const ClientRows* rows(const std::string& path) const { return find(client_rows, &ClientRows::path, path); }

 private:
  template <class T>
  static const T* find(const std::vector<T>& entries, std::string T::*key, const std::string& wanted) {
    for (const T& e : entries)
      if (e.*key == wanted) return &e;
    return nullptr;
  }
};

}  // namespace fedsaf
