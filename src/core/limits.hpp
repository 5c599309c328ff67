#pragma once
// Largest counts fedsaf accepts anywhere: in a config, and in a run file or checkpoint it reads
// back (a value beyond them there means the file is damaged or was not written by fedsaf).
#include <cstdint>

namespace fedsaf::limits {

constexpr int64_t kMaxRounds = 1'000'000'000;   // run.rounds
constexpr int64_t kMaxClients = 100'000'000;    // run.clients
constexpr int64_t kMaxClasses = 1'000'000;      // classes of a data set
constexpr int64_t kMaxWorldSize = 10'000'000;   // MPI ranks of one run

// deflate's best compression ratio: B compressed bytes (gzip, HDF5's deflate filter) hold at most
// 1032·B bytes of data, so a size declared beyond that cannot be what the file stores.
constexpr int64_t kDeflateMaxRatio = 1032;

}  // namespace fedsaf::limits
