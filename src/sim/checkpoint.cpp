#include "sim/checkpoint.hpp"

#include <fcntl.h>
#include <signal.h>
#include <fmt/format.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <regex>
#include <vector>

#include "algo/algorithm.hpp"
#include "algo/algorithm_state.hpp"
#include "algo/state.hpp"
#include "core/errors.hpp"
#include "io/h5.hpp"
#include "io/run_file.hpp"
#include "sim/checkpoint_tables.hpp"
#include "mpi/communicator.hpp"
#include "mpi/environment.hpp"
#include "mpi/mpi_communicator.hpp"  // mpi_handle, for parallel HDF5

namespace fedsaf {

namespace {

namespace fs = std::filesystem;

// The trailer after the HDF5 bytes: 8 magic bytes, the CRC-32 of everything before the trailer
// (little endian), 4 zero bytes. HDF5 ignores bytes past its end-of-file address.
constexpr std::array<char, 8> kTrailerMagic{'F', 'S', 'C', 'K', 'P', 'T', '0', '1'};
constexpr int64_t kTrailerBytes = 16;
constexpr size_t kCopyBlock = size_t{4} << 20;

std::string errno_text() { return std::strerror(errno); }

// Test hook: FEDSAF_CRASH_POINT=NAME@ROUNDS kills this process (SIGKILL, no clean-up) when the
// write of the checkpoint after ROUNDS rounds reaches NAME, so that tests can crash it exactly
// there and check the recovery.
void crash_point(const char* name, int64_t rounds_done) {
  const char* wanted = std::getenv("FEDSAF_CRASH_POINT");
  if (wanted != nullptr && fmt::format("{}@{}", name, rounds_done) == wanted) ::kill(::getpid(), SIGKILL);
}

class Fd {
 public:
  Fd(const std::string& path, int flags, mode_t mode = 0644) : path_(path), fd_(::open(path.c_str(), flags, mode)) {
    if (fd_ < 0) throw IoError(fmt::format("{}: cannot open: {}", path, errno_text()));
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Reads up to n bytes at offset; returns how many (0 at the end).
  size_t read_at(char* buf, size_t n, int64_t offset) const {
    const ssize_t got = ::pread(fd_, buf, n, offset);
    if (got < 0) throw IoError(fmt::format("{}: cannot read: {}", path_, errno_text()));
    return static_cast<size_t>(got);
  }
  void write_all(const char* buf, size_t n) {
    while (n > 0) {
      const ssize_t put = ::write(fd_, buf, n);
      if (put < 0) throw IoError(fmt::format("{}: cannot write: {}", path_, errno_text()));
      buf += put;
      n -= static_cast<size_t>(put);
    }
  }
  void sync() {
    if (::fsync(fd_) != 0) throw IoError(fmt::format("{}: cannot flush to disk: {}", path_, errno_text()));
  }
  void close() {  // reports errors (e.g. a full disk noticed late); the destructor would ignore them
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw IoError(fmt::format("{}: cannot close: {}", path_, errno_text()));
  }

 private:
  std::string path_;
  int fd_;
};

int64_t file_size(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw IoError(fmt::format("{}: {}", path, ec.message()));
  return static_cast<int64_t>(size);
}

// CRC-32 of the first `bytes` bytes of path.
uint32_t crc_of_file(const std::string& path, int64_t bytes) {
  Fd in(path, O_RDONLY);
  std::vector<char> buf(kCopyBlock);
  uLong crc = crc32(0L, Z_NULL, 0);
  for (int64_t done = 0; done < bytes;) {
    const size_t want = static_cast<size_t>(std::min<int64_t>(bytes - done, static_cast<int64_t>(buf.size())));
    const size_t got = in.read_at(buf.data(), want, done);
    if (got == 0) throw IoError(fmt::format("{}: shorter than expected", path));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(buf.data()), static_cast<uInt>(got));
    done += static_cast<int64_t>(got);
  }
  return static_cast<uint32_t>(crc);
}

// Copies the first `bytes` bytes of from into a new file `to` and flushes it to disk.
void copy_bytes(const std::string& from, const std::string& to, int64_t bytes) {
  Fd in(from, O_RDONLY);
  Fd out(to, O_WRONLY | O_CREAT | O_TRUNC);
  std::vector<char> buf(kCopyBlock);
  for (int64_t done = 0; done < bytes;) {
    const size_t want = static_cast<size_t>(std::min<int64_t>(bytes - done, static_cast<int64_t>(buf.size())));
    const size_t got = in.read_at(buf.data(), want, done);
    if (got == 0) throw IoError(fmt::format("{}: shorter than expected", from));
    out.write_all(buf.data(), got);
    done += static_cast<int64_t>(got);
  }
  out.sync();
  out.close();
}

void append_trailer(const std::string& path) {
  const uint32_t crc = crc_of_file(path, file_size(path));
  std::array<char, kTrailerBytes> trailer{};
  std::memcpy(trailer.data(), kTrailerMagic.data(), kTrailerMagic.size());
  for (int b = 0; b < 4; ++b) trailer[8 + static_cast<size_t>(b)] = static_cast<char>((crc >> (8 * b)) & 0xffu);
  Fd out(path, O_WRONLY | O_APPEND);
  out.write_all(trailer.data(), trailer.size());
  out.sync();
  out.close();
}

void sync_dir(const std::string& dir) {
  Fd d(dir, O_RDONLY | O_DIRECTORY);
  d.sync();
}

h5::DType h5_dtype(torch::ScalarType t, const std::string& name) {
  switch (t) {
    case torch::kFloat32: return h5::DType::kF32;
    case torch::kFloat64: return h5::DType::kF64;
    case torch::kInt64: return h5::DType::kI64;
    default: throw Error(fmt::format("checkpoint state '{}': unsupported dtype {}", name, c10::toString(t)));
  }
}
torch::ScalarType torch_dtype(h5::DType t, const std::string& name) {
  switch (t) {
    case h5::DType::kF32: return torch::kFloat32;
    case h5::DType::kF64: return torch::kFloat64;
    case h5::DType::kI64: return torch::kInt64;
    default: throw IoError(fmt::format("checkpoint state '{}': unexpected stored dtype {}", name, h5::dtype_name(t)));
  }
}

// Bytes of per-client rows copied out per collective write: 64 MiB. Test hook:
// FEDSAF_CHECKPOINT_BLOCK_BYTES=N writes blocks of N bytes (at least one row) instead.
int64_t state_block_bytes() {
  const char* set = std::getenv("FEDSAF_CHECKPOINT_BLOCK_BYTES");
  return set != nullptr ? std::max<int64_t>(1, std::atoll(set)) : int64_t{64} << 20;
}

// /checkpoint/state in a parallel file: globals written by every rank alike (rank 0's bytes land),
// per-client entries as one contiguous block of rows per rank (rank 0's clients first, ...).
// A state's element type is its tensor's, known only at run time: h5::visit_dtype picks the typed
// call (and data_ptr<T> checks that the tensor holds T).
class H5StateWriter : public StateWriter {
 public:
  H5StateWriter(h5::Group& group, Communicator& comm)
      : group_(group), comm_(comm), rank_(comm.rank()), size_(comm.size()) {}
  void global(const std::string& name, const torch::Tensor& value) override {
    const torch::Tensor t = value.detach().to(torch::kCPU).contiguous().flatten();  // [numel]
    const h5::DType type = h5_dtype(t.scalar_type(), name);
    h5::Dataset d = group_.create_dataset(name, type, {t.numel()});
    h5::visit_dtype(type, [&](auto zero) { d.write(t.data_ptr<decltype(zero)>(), t.numel()); });
  }
  void per_client(const std::string& name, int64_t numel, torch::ScalarType dtype,
                  const std::map<int64_t, torch::Tensor>& rows) override {
    // Rows are checked before the first collective call: a mismatch is a bug in one algorithm on
    // one rank, and throwing past collectives the other ranks are in would hang them.
    const auto k = static_cast<int64_t>(rows.size());
    std::vector<int64_t> ids;
    for (const auto& [client, row] : rows) {
      if (row.numel() != numel)
        fatal(fmt::format("checkpoint state '{}': client {} has {} elements, expected {}", name, client, row.numel(),
                          numel));
      ids.push_back(client);
    }
    const std::vector<int64_t> counts = comm_.gather_sizes(k);  // [R] rows per rank
    int64_t offset = 0, total = 0;
    // Rows go out a block at a time: a copy of every row at once was as large as the state itself
    // (+2 GB per rank for FedSAF's CNN state of 5,000 clients), which may not fit beside it or
    // live in the disk tier. The writes are collective: every rank makes as many as the rank
    // with the most blocks.
    const int64_t row_bytes = std::max<int64_t>(1, numel * static_cast<int64_t>(c10::elementSize(dtype)));
    const int64_t block_rows = std::max<int64_t>(1, state_block_bytes() / row_bytes);
    int64_t blocks = 0;
    for (int r = 0; r < size_; ++r) {
      if (r < rank_) offset += counts[static_cast<size_t>(r)];
      total += counts[static_cast<size_t>(r)];
      blocks = std::max(blocks, (counts[static_cast<size_t>(r)] + block_rows - 1) / block_rows);
    }
    h5::Group g = group_.create_group(name);
    g.attrs().set("numel", numel);
    g.attrs().set("rows", total);
    if (total == 0) return;  // no zero-sized data sets
    g.create_dataset("clients", h5::DType::kI64, {total}).write_rows(offset, k, ids.data());
    if (numel > 0) {
      const h5::DType type = h5_dtype(dtype, name);
      h5::Dataset d = g.create_dataset("values", type, {total, numel});
      torch::Tensor block = torch::empty({std::min(block_rows, k), numel}, torch::TensorOptions().dtype(dtype));  // [b, numel]
      auto row = rows.begin();
      for (int64_t b = 0; b < blocks; ++b) {
        const int64_t first = std::min(b * block_rows, k), n = std::min(block_rows, k - first);
        for (int64_t i = 0; i < n; ++i, ++row) block[i].copy_(row->second.detach().flatten());
        h5::visit_dtype(type, [&](auto zero) {
          d.write_rows(offset + first, n, n > 0 ? block.data_ptr<decltype(zero)>() : nullptr);
        });
      }
    }
  }

 private:
  h5::Group& group_;
  Communicator& comm_;
  int rank_ = 0, size_ = 1;
};

class H5StateReader : public StateReader {
 public:
  H5StateReader(const h5::File& file, std::string path, int64_t num_clients)
      : group_(file.open_group("checkpoint/state")), path_(std::move(path)), num_clients_(num_clients) {}
  torch::Tensor global(const std::string& name) override {
    require(name);
    h5::Dataset d = group_.open_dataset(name);
    const std::vector<int64_t> shape = d.shape();
    torch::Tensor t = torch::empty({shape.empty() ? 1 : shape[0]}, torch::TensorOptions().dtype(torch_dtype(d.dtype(), name)));
    h5::visit_dtype(d.dtype(), [&](auto zero) { d.read(t.data_ptr<decltype(zero)>(), t.numel()); });
    return t;
  }
  std::map<int64_t, torch::Tensor> per_client(const std::string& name, const std::vector<int64_t>& hosted) override {
    require(name);
    h5::Group g = group_.open_group(name);
    std::map<int64_t, torch::Tensor> out;
    if (g.attrs().get_int("rows") == 0) return out;
    const int64_t numel = g.attrs().get_int("numel");
    const std::vector<int64_t> ids = g.open_dataset("clients").read<int64_t>();
    // A row for a client this run does not have: the checkpoint belongs to another run (or lies).
    const auto beyond = std::find_if(ids.begin(), ids.end(), [&](int64_t id) { return id >= num_clients_; });
    if (beyond != ids.end())
      throw IoError(fmt::format("{}: state '{}' holds client {}, but this run has {} clients (ids 0..{}): the "
                                "checkpoint was written by a run with more clients",
                                path_, name, *beyond, num_clients_, num_clients_ - 1));
    std::map<int64_t, int64_t> row_of;
    for (size_t r = 0; r < ids.size(); ++r) row_of[ids[r]] = static_cast<int64_t>(r);
    std::optional<h5::Dataset> values;
    if (numel > 0) values.emplace(g.open_dataset("values"));
    for (int64_t c : hosted) {
      const auto it = row_of.find(c);
      if (it == row_of.end()) continue;
      if (!values) {
        out[c] = torch::empty({0});
        continue;
      }
      torch::Tensor row = torch::empty({numel}, torch::TensorOptions().dtype(torch_dtype(values->dtype(), name)));
      h5::visit_dtype(values->dtype(), [&](auto zero) { values->read_rows(it->second, 1, row.data_ptr<decltype(zero)>()); });
      out[c] = row;
    }
    return out;
  }

 private:
  void require(const std::string& name) const {
    if (!group_.exists(name))
      throw IoError(fmt::format("{}: the checkpoint has no state '{}' (written by another algorithm?)", path_, name));
  }
  h5::Group group_;
  std::string path_;
  int64_t num_clients_;
};

const std::regex kCheckpointName(R"(ckpt-(\d+)\.h5)");
const std::regex kUnfinishedName(R"(\.ckpt-(\d+)\.h5\.tmp)");

// Complete checkpoints in dir, newest first: (rounds_done, path).
std::vector<std::pair<int64_t, std::string>> list_checkpoints(const std::string& dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  std::smatch m;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, m, kCheckpointName)) found.emplace_back(std::stoll(m[1].str()), entry.path().string());
  }
  std::sort(found.rbegin(), found.rend());
  return found;
}

void prune(const std::string& dir, int64_t keep, const std::string& current_tmp) {
  const auto found = list_checkpoints(dir);
  for (size_t i = static_cast<size_t>(keep); i < found.size(); ++i) fs::remove(found[i].second);
  for (const auto& entry : fs::directory_iterator(dir)) {  // leftovers of writers that died
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, kUnfinishedName) && entry.path().string() != current_tmp) fs::remove(entry.path());
  }
}

}  // namespace

std::string checkpoint_dir(const std::string& out_dir) { return (fs::path(out_dir) / "checkpoints").string(); }

std::string write_checkpoint(const std::string& dir, const std::string& run_file, const CheckpointMeta& meta,
                             const Algorithm& algorithm, const ClientStateStore& states, int64_t keep,
                             Communicator& comm) {
  const std::string name = fmt::format("ckpt-{:06}.h5", meta.rounds_done);
  const std::string final_path = (fs::path(dir) / name).string();
  const std::string tmp = (fs::path(dir) / ("." + name + ".tmp")).string();
  const bool root = comm.rank() == 0;
  // Checked first, on every rank alike: checkpoints are parallel HDF5 files, which need MPI.
  const auto handle = mpi_handle(comm, "checkpoint");
  agreed(
      [&] {
        fail_point("checkpoint");
        if (!root) return;
        fs::create_directories(dir);
        if (fs::exists(tmp)) fs::remove_all(tmp);
        copy_bytes(run_file, tmp, file_size(run_file));
        crash_point("checkpoint-after-copy", meta.rounds_done);
      },
      comm);
  agreed(
      [&] {
        h5::File file = h5::File::open_parallel(tmp, h5::Mode::kReadWrite, handle);
        h5::Group group = file.create_group("checkpoint");
        auto attrs = group.attrs();
        attrs.set("format", std::string(kCheckpointFormat));
        attrs.set("rounds_done", meta.rounds_done);
        attrs.set("elapsed_seconds", meta.elapsed_seconds);
        attrs.set("config_toml", meta.config_toml);
        attrs.set("config_crc32", static_cast<int64_t>(crc32(0L, reinterpret_cast<const Bytef*>(meta.config_toml.data()),
                                                              static_cast<uInt>(meta.config_toml.size()))));
        attrs.set("world_size", static_cast<int64_t>(comm.size()));
        attrs.set("created", utc_now());
        h5::Group state = group.create_group("state");
        H5StateWriter writer(state, comm);
        save_algorithm_state(algorithm, states, writer);
        crash_point("checkpoint-before-marker", meta.rounds_done);
        attrs.set("complete", int64_t{1});  // last: a file without it was not finished
        file.close();
      },
      comm);
  agreed(
      [&] {
        if (!root) return;
        append_trailer(tmp);
        crash_point("checkpoint-before-rename", meta.rounds_done);
        fs::rename(tmp, final_path);
        sync_dir(dir);
        prune(dir, keep, tmp);
      },
      comm);
  return final_path;
}

namespace {

// Throws IoError unless path ends with a trailer whose CRC matches every byte before it.
void verify_trailer(const std::string& path) {
  const int64_t size = file_size(path);
  if (size < kTrailerBytes) throw IoError(fmt::format("{} bytes: truncated", size));
  std::array<char, kTrailerBytes> trailer{};
  Fd(path, O_RDONLY).read_at(trailer.data(), trailer.size(), size - kTrailerBytes);
  if (!std::equal(kTrailerMagic.begin(), kTrailerMagic.end(), trailer.begin()))
    throw IoError("no checkpoint trailer at its end: truncated, or not a finished fedsaf checkpoint");
  uint32_t stored = 0;
  for (int b = 0; b < 4; ++b) stored |= static_cast<uint32_t>(static_cast<unsigned char>(trailer[8 + static_cast<size_t>(b)])) << (8 * b);
  const uint32_t computed = crc_of_file(path, size - kTrailerBytes);
  if (stored != computed)
    throw IoError(fmt::format("CRC-32 mismatch (stored {:08x}, computed {:08x}): the file is damaged", stored, computed));
}

// Throws IoError unless every value of d (float32 or float64; rows × row_numel) is finite: a model
// holding NaN would make every client "diverge" on resume, blamed on train.lr (issue 25 §5). Read in
// blocks of rows, so that a large client table needs no second copy in memory.
void require_finite(const h5::Dataset& d, int64_t rows, int64_t row_numel, const std::string& name) {
  if (d.dtype() != h5::DType::kF32 && d.dtype() != h5::DType::kF64) return;
  const int64_t block = std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(row_numel, 1));
  for (int64_t r = 0; r < rows; r += block) {
    const int64_t n = std::min(block, rows - r);
    std::vector<double> values(static_cast<size_t>(n * row_numel));  // [n, row_numel]
    if (d.dtype() == h5::DType::kF32) {
      std::vector<float> f(values.size());
      d.read_rows(r, n, f.data());
      std::copy(f.begin(), f.end(), values.begin());
    } else {
      d.read_rows(r, n, values.data());
    }
    const auto wrong = std::find_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); });
    if (wrong != values.end())
      throw IoError(fmt::format("state '{}': value {} is {} (not finite): the saved model or state is damaged", name,
                                r * row_numel + (wrong - values.begin()), *wrong));
  }
}

// Throws IoError naming the first field of /checkpoint/state whose layout is not what
// H5StateWriter writes: a state identical on every rank is one 1-D data set; a per-client state
// is a group with rows and numel ≥ 0, clients [rows] of distinct ids ≥ 0 and values [rows, numel].
// A CRC only proves the bytes are the ones written, not that the writer was fedsaf.
void validate_state(const h5::File& file) {
  if (!file.exists("checkpoint/state")) throw IoError("no /checkpoint/state group");
  const h5::Group state = file.open_group("checkpoint/state");
  for (const std::string& name : state.children()) {
    const auto bad = [&](const std::string& what) {
      throw IoError(fmt::format("state '{}': {}", name, what));
    };
    if (!state.is_group(name)) {
      const std::vector<int64_t> shape = state.open_dataset(name).shape();
      if (shape.size() > 1) bad(fmt::format("stored with {} dimensions, expected one", shape.size()));
      require_finite(state.open_dataset(name), shape.empty() ? 1 : shape[0], 1, name);
      continue;
    }
    const h5::Group g = state.open_group(name);
    const auto attrs = g.attrs();
    if (!attrs.has("rows") || !attrs.has("numel")) bad("no rows or numel attribute");
    const int64_t rows = attrs.get_int("rows"), numel = attrs.get_int("numel");
    if (rows < 0 || numel < 0) bad(fmt::format("rows = {} and numel = {} must be ≥ 0", rows, numel));
    if (rows == 0) continue;
    if (!g.exists("clients")) bad("no clients data set");
    const h5::Dataset clients = g.open_dataset("clients");
    if (clients.shape() != std::vector<int64_t>{rows} || clients.dtype() != h5::DType::kI64)
      bad(fmt::format("clients must be int64 [{}] (rows)", rows));
    std::vector<int64_t> ids = clients.read<int64_t>();
    std::sort(ids.begin(), ids.end());
    if (ids.front() < 0) bad(fmt::format("client id {} is negative", ids.front()));
    const auto twice = std::adjacent_find(ids.begin(), ids.end());
    if (twice != ids.end()) bad(fmt::format("client {} has two rows", *twice));
    if (numel == 0) continue;
    if (!g.exists("values") || g.open_dataset("values").shape() != std::vector<int64_t>{rows, numel})
      bad(fmt::format("values must be [{}, {}] (rows, numel)", rows, numel));
    require_finite(g.open_dataset("values"), rows, numel, name);
  }
}

}  // namespace

CheckpointMeta read_checkpoint_meta(const std::string& path, bool verify_bytes) {
  if (verify_bytes) verify_trailer(path);
  h5::File file = h5::File::open(path, h5::Mode::kRead);
  if (!file.exists("checkpoint")) throw IoError("no /checkpoint group");
  const h5::Group group = file.open_group("checkpoint");
  const auto attrs = group.attrs();
  const std::string format = attrs.has("format") ? attrs.get_string("format") : "?";
  if (format != kCheckpointFormat)
    throw IoError(fmt::format("written in format '{}', this fedsaf reads '{}'", format, kCheckpointFormat));
  if (!attrs.has("complete") || attrs.get_int("complete") != 1) throw IoError("not marked complete");
  CheckpointMeta meta;
  meta.path = path;
  meta.rounds_done = attrs.get_int("rounds_done");
  meta.elapsed_seconds = attrs.get_double("elapsed_seconds");
  meta.config_toml = attrs.get_string("config_toml");
  meta.world_size = static_cast<int>(attrs.get_int("world_size"));
  if (meta.rounds_done < 1) throw IoError(fmt::format("rounds_done = {}: a checkpoint follows at least one round", meta.rounds_done));
  if (!std::isfinite(meta.elapsed_seconds) || meta.elapsed_seconds < 0)
    throw IoError(fmt::format("elapsed_seconds = {} is not a time", meta.elapsed_seconds));
  if (meta.world_size < 1) throw IoError(fmt::format("world_size = {}: at least one rank wrote it", meta.world_size));
  std::smatch m;
  const std::string name = fs::path(path).filename().string();
  if (std::regex_match(name, m, kCheckpointName) && std::stoll(m[1].str()) != meta.rounds_done)
    throw IoError(fmt::format("its name says {} rounds done, its content {}", std::stoll(m[1].str()), meta.rounds_done));
  validate_state(file);
  validate_run_tables(file, meta.rounds_done);
  return meta;
}

std::optional<CheckpointMeta> find_checkpoint(const std::string& dir,
                                              const std::function<void(const std::string&)>& warn) {
  std::error_code ec;
  const fs::file_status status = fs::status(dir, ec);
  if (fs::exists(status) && !fs::is_directory(status))  // else "run.h5 already exists" would hide it
    throw Error(fmt::format("{}: is not a folder (fedsaf keeps a run's checkpoints in this folder): move it away, "
                            "or choose another --out", dir));
  if (!fs::is_directory(status)) return std::nullopt;
  for (const auto& entry : fs::directory_iterator(dir))
    if (std::regex_match(entry.path().filename().string(), kUnfinishedName))
      warn(fmt::format("ignoring {}: an unfinished checkpoint (its writer stopped before the rename)",
                       entry.path().string()));
  const auto found = list_checkpoints(dir);
  for (const auto& [rounds, path] : found) {
    try {
      return read_checkpoint_meta(path);
    } catch (const std::exception& e) {
      warn(fmt::format("checkpoint {} is not usable: {}; trying an older one", path, e.what()));
    }
  }
  if (found.empty()) return std::nullopt;
  throw Error(fmt::format("{}: none of its {} checkpoint(s) is usable (see the messages above); refusing to start "
                          "over: pass --fresh --force to discard them",
                          dir, found.size()));
}

void load_checkpoint_state(const std::string& path, Algorithm& algorithm, ClientStateStore& states,
                           const std::vector<int64_t>& hosted, int64_t num_clients) {
  const h5::File file = h5::File::open(path, h5::Mode::kRead);
  H5StateReader reader(file, path, num_clients);
  try {
    load_algorithm_state(algorithm, states, hosted, reader);
  } catch (const IoError& e) {  // an algorithm's own check (e.g. state 'plan') names the state, not the file
    if (std::string(e.what()).rfind(path, 0) == 0) throw;
    throw IoError(fmt::format("{}: {}", path, e.what()));
  }
}

void restore_run_file(const std::string& checkpoint, const std::string& run_file) {
  const std::string tmp = run_file + ".restoring";
  copy_bytes(checkpoint, tmp, file_size(checkpoint) - kTrailerBytes);
  fs::rename(tmp, run_file);
}

}  // namespace fedsaf
