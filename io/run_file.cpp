// fedsaf: no-torch
#include "io/run_file.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <variant>

#include "core/errors.hpp"
#include "fedsaf/build_info.hpp"
#include "io/run_columns.hpp"
#include "io/run_file_marker.hpp"

namespace fedsaf {

constexpr int64_t kChunkRows = 64;  // rows per chunk of the per-round tables

// About 1 MiB, so that a run of 100,000 clients grows by one 0.8 MB row per evaluation instead of
// reserving 64 (51 MB) at the first.
int64_t per_client_chunk_rows(int64_t num_clients) {
  return std::clamp<int64_t>((int64_t{1} << 20) / std::max<int64_t>(1, 8 * num_clients), 1, kChunkRows);
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(now));
}

namespace {

std::string path_in(const char* group, const char* name) { return std::string(group) + "/" + name; }

// The element type of a pointer to a data member (int64_t RoundRecord::* → int64_t).
template <typename M> struct FieldType;
template <typename Record, typename T> struct FieldType<T Record::*> { using type = T; };

// Creates one extendible data set per column of a table in `group`, of `shape` (first dimension 0).
template <typename Record, size_t N>
void create_columns(h5::Group& group, const RunColumn<Record> (&columns)[N], const std::vector<int64_t>& shape,
                    const std::string& unit_suffix = "") {
  for (const auto& c : columns)
    group.create_dataset(c.name, c.dtype(), shape, kChunkRows).attrs().set("unit", std::string(c.unit) + unit_suffix);
}

}  // namespace

RunFile::RunFile(const std::string& path, MPI_Comm comm, const RunFileInfo& info, Open open) {
  MPI_Comm_rank(comm, &rank_);
  MPI_Comm_size(comm, &world_size_);
  num_clients_ = info.num_clients;
  if (open == Open::kContinue) {
    continue_file(path, comm, info);
    return;
  }
  file_ = std::make_unique<h5::File>(h5::File::open_parallel(path, h5::Mode::kCreate, comm));
  if (rank_ == 0) mark_unfinished(path);  // from here on an unreadable path is this run's own
  auto attrs = file_->attrs();
  attrs.set("resumes", int64_t{0});
  attrs.set("schema_version", std::string(kRunSchemaVersion));
  attrs.set("fedsaf_version", std::string(build::kVersion));
  attrs.set("git_commit", std::string(build::kGitCommit));
  attrs.set("created", utc_now());
  attrs.set("world_size", static_cast<int64_t>(info.world_size));
  attrs.set("device", info.device);
  attrs.set("algorithm", info.algorithm);
  attrs.set("model", info.model);
  attrs.set("dataset", info.dataset);
  attrs.set("seed", static_cast<int64_t>(info.seed));
  attrs.set("num_clients", info.num_clients);
  attrs.set("num_classes", info.num_classes);
  attrs.set("num_params", info.num_params);
  attrs.set("shared_params", info.shared_params);
  attrs.set("private_params", info.num_params - info.shared_params);
  attrs.set("rounds_planned", info.rounds);
  attrs.set("status", std::string("running"));
  file_->write_strings("config", {info.config_toml});
  write_ranks(info);

  ensure_parent(kRoundsGroup);  // each group made by itself, as the layout always was
  auto rounds = file_->create_group(kRoundsGroup);
  create_columns(rounds, kRoundColumns, {0});
  ensure_parent(kEvalGroup);
  auto eval = file_->create_group(kEvalGroup);
  create_columns(eval, kEvalColumns, {0});
  eval.create_dataset(kClientAccuracyName, h5::DType::kF64, {0, num_clients_}, per_client_chunk_rows(num_clients_))
      .attrs()
      .set("unit", std::string(kClientAccuracyUnit));
  auto timing = file_->create_group(kTimingGroup);
  create_columns(timing, kTimingColumns, {0, world_size_}, kTimingUnitSuffix);
}

void RunFile::continue_file(const std::string& path, MPI_Comm comm, const RunFileInfo& info) {
  file_ = std::make_unique<h5::File>(h5::File::open_parallel(path, h5::Mode::kReadWrite, comm));
  if (rank_ == 0) mark_unfinished(path);  // the restored copy is another file than the one marked before
  if (file_->exists("checkpoint")) file_->remove("checkpoint");  // the copy came from a checkpoint
  auto attrs = file_->attrs();
  attrs.set("resumes", attrs.get_int("resumes") + 1);
  attrs.set("world_size", static_cast<int64_t>(info.world_size));
  attrs.set("device", info.device);
  attrs.set("rounds_planned", info.rounds);
  attrs.set("status", std::string("running"));
  file_->remove("config");  // the resolved config of this segment (only safe keys may differ)
  file_->write_strings("config", {info.config_toml});
  write_ranks(info);  // this segment's ranks (their number, hosts and devices may differ)
  const auto rows_of = [&](const std::string& name) { return file_->exists(name) ? file_->open_dataset(name).shape()[0] : 0; };
  rounds_written_ = rows_of(path_in(kRoundsGroup, kRoundColumns[0].name));
  for (const auto& c : kRoundColumns) {  // a column newer than the file (rows before it read 0)
    const std::string name = path_in(kRoundsGroup, c.name);
    if (!file_->exists(name)) file_->create_dataset(name, c.dtype(), {0}, kChunkRows).attrs().set("unit", std::string(c.unit));
  }
  evals_written_ = rows_of(path_in(kEvalGroup, kEvalColumns[0].name));
  for (const auto& c : kTimingColumns) {  // more ranks than before: more rank columns
    h5::Dataset d = file_->open_dataset(path_in(kTimingGroup, c.name));
    const std::vector<int64_t> shape = d.shape();
    if (shape[1] < world_size_) d.resize({shape[0], world_size_});
  }
}

void RunFile::write_ranks(const RunFileInfo& info) {
  if (file_->exists("ranks")) file_->remove("ranks");
  h5::Group ranks = file_->create_group("ranks");
  const auto per_rank = [&](std::vector<std::string> v) {  // callers that know nothing of ranks: "unknown"
    v.resize(static_cast<size_t>(world_size_), "unknown");
    return v;
  };
  ranks.write_strings("hostname", per_rank(info.rank_hostnames));
  ranks.write_strings("device", per_rank(info.rank_devices));
  for (const char* name : {"state_device_bytes", "state_host_bytes", "state_disk_bytes", "state_budget_bytes"})
    ranks.write(name, std::vector<int64_t>(static_cast<size_t>(world_size_), 0));
}

void RunFile::set_client_state(const StateBytes& bytes) {
  const auto put = [&](const char* name, int64_t value) {
    file_->open_dataset(std::string("ranks/") + name).write_points({{rank_}}, &value);
  };
  put("state_device_bytes", bytes.device);
  put("state_host_bytes", bytes.host);
  put("state_disk_bytes", bytes.disk);
  put("state_budget_bytes", bytes.device_budget);
}

std::vector<EvalRecord> RunFile::read_evals() const {
  std::vector<EvalRecord> evals;
  // A damaged file could hold data sets of other lengths: refuse it rather than read past one.
  const auto require_values = [&](const h5::Dataset& d, size_t values, size_t expected) {
    if (values != expected)
      throw IoError(fmt::format("{}: holds {} values, expected {} ({} evaluations): the run file is damaged", d.path(),
                                values, expected, evals.size()));
  };
  for (const auto& c : kEvalColumns) {
    std::visit(
        [&](auto field) {
          using T = typename FieldType<decltype(field)>::type;
          const h5::Dataset d = file_->open_dataset(path_in(kEvalGroup, c.name));
          const std::vector<T> values = d.read<T>();
          if (&c == &kEvalColumns[0]) evals.resize(values.size());  // the first column counts the evaluations
          require_values(d, values.size(), evals.size());
          for (size_t e = 0; e < values.size(); ++e) evals[e].*field = values[e];
        },
        c.field);
  }
  const h5::Dataset d = file_->open_dataset(path_in(kEvalGroup, kClientAccuracyName));
  const std::vector<double> clients = d.read<double>();  // [E, N]
  const auto n = static_cast<size_t>(num_clients_);
  require_values(d, clients.size(), evals.size() * n);
  for (size_t e = 0; e < evals.size(); ++e)
    evals[e].client_accuracy.assign(clients.begin() + static_cast<std::ptrdiff_t>(e * n),
                                    clients.begin() + static_cast<std::ptrdiff_t>((e + 1) * n));
  return evals;
}

template <typename T>
void RunFile::append_shared_value(const std::string& path, int64_t row, const T* value) {
  h5::Dataset d = file_->open_dataset(path);
  d.resize_rows(row + 1);
  // Rank 0 writes the value (the same on every rank); the others join the collective with an
  // empty selection.
  d.write_rows(row, rank_ == 0 ? 1 : 0, value);
}

void RunFile::append_round(const RoundRecord& r) {
  const int64_t row = rounds_written_;
  for (const auto& c : kRoundColumns)
    std::visit([&](auto field) { append_shared_value(path_in(kRoundsGroup, c.name), row, &(r.*field)); }, c.field);
  // Timing: every rank writes its own column of the new row.
  for (const auto& c : kTimingColumns) {
    h5::Dataset d = file_->open_dataset(path_in(kTimingGroup, c.name));
    d.resize_rows(row + 1);
    std::visit([&](auto field) { d.write_points({{row, rank_}}, &(r.timing.*field)); }, c.field);
  }
  rounds_written_ = row + 1;
}

void RunFile::set_io_seconds(int64_t round_row, double seconds) {
  h5::Dataset d = file_->open_dataset(path_in(kTimingGroup, column_of(kTimingColumns, &RoundTiming::io_seconds).name));
  d.write_points({{round_row, rank_}}, &seconds);
}

void RunFile::append_eval(const EvalRecord& e, const std::vector<int64_t>& hosted) {
  const int64_t row = evals_written_;
  for (const auto& c : kEvalColumns)
    std::visit([&](auto field) { append_shared_value(path_in(kEvalGroup, c.name), row, &(e.*field)); }, c.field);
  // Per-client accuracy: each rank writes the entries of the clients it hosts.
  h5::Dataset d = file_->open_dataset(path_in(kEvalGroup, kClientAccuracyName));
  d.resize_rows(row + 1);
  std::vector<std::vector<int64_t>> points;
  std::vector<double> values;
  for (int64_t c : hosted) {
    points.push_back({row, c});
    values.push_back(e.client_accuracy.at(static_cast<size_t>(c)));
  }
  d.write_points(points, values.data());
  evals_written_ = row + 1;
}

void RunFile::append_replacement(int64_t round, const std::vector<int>& rank_of) {
  ensure_series("partition/replacements/round", h5::DType::kI64, {0}, 0, "round index (0-based)");
  ensure_series("partition/replacements/placement", h5::DType::kI64, {0, num_clients_}, 1, "MPI rank");
  const int64_t row = next_row("partition/replacements/round");
  append_shared_value("partition/replacements/round", row, &round);
  const std::vector<int64_t> ranks(rank_of.begin(), rank_of.end());  // [N]: one row of the [K, N] data set
  append_shared_value("partition/replacements/placement", row, ranks.data());
}

void RunFile::append_diagnostics(int64_t round, const Diagnostics& d) {
  for (const ScalarDiagnostic& x : d.scalars) {
    const h5::DType type = x.integer ? h5::DType::kI64 : h5::DType::kF64;
    ensure_series(x.path, type, {0}, 0, x.unit);
    const int64_t row = next_row(x.path), as_int = static_cast<int64_t>(x.value);
    if (x.integer) append_shared_value(x.path, row, &as_int);
    else append_shared_value(x.path, row, &x.value);
  }
  for (const PartStatistics& p : d.parts) {
    const auto t = static_cast<int64_t>(p.names.size());
    const std::string names = p.group + "/" + p.names_path, mean = p.group + "/mean", max = p.group + "/max";
    if (!file_->exists(names)) {
      ensure_parent(names);
      file_->write_strings(names, p.names);
    }
    ensure_series(mean, h5::DType::kF64, {0, t}, 0,
                  fmt::format("mean of {} in the round (NaN: none computed)", p.of));
    ensure_series(max, h5::DType::kF64, {0, t}, 0, fmt::format("largest value of {} in the round (NaN: none computed)", p.of));
    append_shared_value(mean, next_row(mean), p.mean.data());
    append_shared_value(max, next_row(max), p.max.data());
  }
  for (const ClientRows& c : d.client_rows) {
    const std::string round_path = c.path + "_round";
    std::vector<int64_t> shape{0, num_clients_};
    if (c.width != 1) shape.push_back(c.width);
    ensure_series(round_path, h5::DType::kI64, {0}, 0, fmt::format("round of each entry of {}", c.path));
    ensure_series(c.path, h5::DType::kF32, shape, 1, c.unit);
    if (!c.store) continue;
    const int64_t row = next_row(round_path);
    append_shared_value(round_path, row, &round);
    const std::vector<float> values(c.values.begin(), c.values.end());  // as stored: float32
    append_shared_value(c.path, row, values.data());
  }
}

void RunFile::ensure_parent(const std::string& path) {
  for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    const std::string group = path.substr(0, slash);
    if (!file_->exists(group)) file_->create_group(group);
  }
}

void RunFile::ensure_series(const std::string& path, h5::DType type, const std::vector<int64_t>& shape,
                            int64_t chunk_rows, const std::string& unit) {
  if (file_->exists(path)) return;
  ensure_parent(path);
  file_->create_dataset(path, type, shape, chunk_rows > 0 ? chunk_rows : kChunkRows).attrs().set("unit", unit);
}

int64_t RunFile::next_row(const std::string& path) {
  // A run file continued from a checkpoint already holds the rows written before it.
  auto [it, fresh] = rows_written_by_path_.try_emplace(path, 0);
  if (fresh) it->second = file_->open_dataset(path).shape()[0];
  return it->second++;
}

void RunFile::set_setup_seconds(double seconds) {
  file_->attrs().set("setup_seconds", seconds);  // reaches the disk with round 1's flush
}

void RunFile::finish(const RunSummary& s, double wall_seconds) {
  h5::Group group = file_->open_group("metrics");  // must outlive its Attributes view
  auto metrics = group.attrs();
  metrics.set("best_accuracy", s.best_accuracy);
  metrics.set("best_round", s.best_round);
  metrics.set("last_accuracy", s.last_accuracy);
  metrics.set("mean_last10_accuracy", s.mean_last10);
  metrics.set("evaluations", s.evaluations);
  auto root = file_->attrs();
  root.set("wall_seconds", wall_seconds);
  root.set("finished", utc_now());
  root.set("status", std::string("complete"));
  const std::string path = file_->filename();
  file_->close();
  if (rank_ == 0) clear_unfinished(path);
}

}  // namespace fedsaf
