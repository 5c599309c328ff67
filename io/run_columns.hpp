#pragma once
// The run file's tables of one value per round (/metrics/rounds), per evaluation (/metrics/eval)
// and per round and rank (/timing), declared once: RunFile creates, appends and reads their data
// sets from these lists, in this order (the order the file's data sets are created in), and
// tests/io/test_run_columns.cpp checks them against io/SCHEMA.md. Torch-free.
#include <cstdint>
#include <stdexcept>
#include <variant>

#include "io/h5.hpp"
#include "io/run_records.hpp"

namespace fedsaf {

// One column: data set `name` in its table's group, the record field it stores, and the data set's
// `unit` attribute. The field's type is the stored element type, so the two cannot disagree.
template <typename Record>
struct RunColumn {
  const char* name;
  std::variant<int64_t Record::*, double Record::*> field;
  const char* unit;
  constexpr h5::DType dtype() const {
    return std::holds_alternative<int64_t Record::*>(field) ? h5::DType::kI64 : h5::DType::kF64;
  }
};

// One value per round, [R], written by rank 0.
inline constexpr const char* kRoundsGroup = "metrics/rounds";
inline constexpr RunColumn<RoundRecord> kRoundColumns[] = {
    {"round", &RoundRecord::round, "round index (0-based)"},
    {"cohort_size", &RoundRecord::cohort_size, "clients"},
    {"train_loss", &RoundRecord::train_loss, "cross-entropy (nats), sample-weighted mean over the cohort"},
    {"wall_seconds", &RoundRecord::wall_seconds, "s"},
    {"client_updates_per_second", &RoundRecord::client_updates_per_second, "1/s"},
    {"protocol_bytes_up", &RoundRecord::protocol_bytes_up,
     "bytes the FL protocol sends client→server in the round (float32 payload)"},
    {"protocol_bytes_down", &RoundRecord::protocol_bytes_down,
     "bytes the FL protocol sends server→client in the round (float32 payload)"},
    {"diverged_clients", &RoundRecord::diverged_clients,
     "cohort clients left out of the round: non-finite model or loss after local training"},
};

// One value per evaluation, [E], written by rank 0; then the per-client accuracies, [E, N], each
// rank writing the clients it hosts.
inline constexpr const char* kEvalGroup = "metrics/eval";
inline constexpr RunColumn<EvalRecord> kEvalColumns[] = {
    {"round", &EvalRecord::round, "round index (0-based)"},
    {"accuracy", &EvalRecord::accuracy, "fraction, pooled over all test samples"},
    {"accuracy_mean", &EvalRecord::accuracy_mean, "fraction, mean over clients"},
    {"accuracy_std", &EvalRecord::accuracy_std, "fraction, std over clients"},
    {"loss", &EvalRecord::loss, "cross-entropy (nats), pooled"},
    {"auc", &EvalRecord::auc, "micro one-vs-rest ROC AUC"},
};
inline constexpr const char* kClientAccuracyName = "client_accuracy";  // float64 [E, N]
inline constexpr const char* kClientAccuracyUnit = "fraction per client (NaN: no test samples); rows = evaluations";

// One value per round and rank, [R, W], each rank writing its own column.
inline constexpr const char* kTimingGroup = "timing";
inline constexpr RunColumn<RoundTiming> kTimingColumns[] = {
    {"train_seconds", &RoundTiming::train_seconds, "s"},   {"comm_seconds", &RoundTiming::comm_seconds, "s"},
    {"eval_seconds", &RoundTiming::eval_seconds, "s"},     {"io_seconds", &RoundTiming::io_seconds, "s"},
    {"bytes_sent", &RoundTiming::bytes_sent, "bytes"},     {"bytes_received", &RoundTiming::bytes_received, "bytes"},
    {"bytes_sent_off_node", &RoundTiming::bytes_sent_off_node, "bytes to ranks on other nodes"},
    {"bytes_received_off_node", &RoundTiming::bytes_received_off_node, "bytes from ranks on other nodes"},
};
inline constexpr const char* kTimingUnitSuffix = " per round (rows) and rank (columns)";  // after each unit

// The column of `columns` that stores `field` (e.g. &RoundTiming::io_seconds), so that code
// writing one column by itself still takes its name from the table.
template <typename Record, size_t N, typename T>
const RunColumn<Record>& column_of(const RunColumn<Record> (&columns)[N], T Record::*field) {
  for (const RunColumn<Record>& c : columns) {
    const auto* f = std::get_if<T Record::*>(&c.field);
    if (f != nullptr && *f == field) return c;
  }
  throw std::logic_error("column_of: the field is in no column of the table");
}

}  // namespace fedsaf
