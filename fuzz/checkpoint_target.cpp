// Fuzz target: the checkpoint reader (src/sim/checkpoint.cpp) as a resume uses it: rank 0 checks
// the file (read_checkpoint_meta: trailer, CRC, marker, format, metadata, state layout and finite
// values, the run file's tables: lengths, extendible rows, rounds and ranks in range), then the
// algorithm reads its state (load_checkpoint_state, through algo/state.cpp's restore helpers).
// Input: 4 header bytes, then an HDF5 file description (support/h5_builder.hpp).
//   flags   bits 0-1: the trailer: 0 valid (so that the fuzzer reaches the content checks),
//           1 with a wrong CRC, 2 none, 3 the file cut to 9 bytes; bit 2: named ckpt-RRRRRR.h5
//           (the reader compares RRRRRR with rounds_done); bit 3: verify_bytes = false
//   rounds  RRRRRR of the name
//   clients the run's client count (ids the state may hold), % 16
//   loads   2 bits per state name (model, personal, flags, momentum): 0 none, 1 global, 2 per
//           client, 3 per client into clients that already have a row
#include <zlib.h>

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "algo/algorithm.hpp"
#include "algo/state.hpp"
#include "sim/checkpoint.hpp"
#include "support/byte_reader.hpp"
#include "support/expected.hpp"
#include "support/h5_builder.hpp"
#include "support/temp_files.hpp"

namespace {

using namespace fedsaf;

const std::array<std::string, 4> kStates = {"model", "personal", "flags", "momentum"};
constexpr int64_t kParams = 4;  // numel of the fake algorithm's model

// The names the reader looks up: /checkpoint and its state (plan: FedSAF's planned round and cohort),
// and the run file's tables a resume appends to (sim/checkpoint_tables.cpp); fuzz/make_corpus.py
// lists the same, in the same order.
const fuzz::H5Names& names() {
  static const fuzz::H5Names n{
      {"checkpoint", "checkpoint/state", "checkpoint/state/model", "checkpoint/state/personal",
       "checkpoint/state/personal/clients", "checkpoint/state/personal/values", "checkpoint/state/flags",
       "checkpoint/state/flags/clients", "checkpoint/state/flags/values", "checkpoint/state/momentum", "config",
       "checkpoint/state/plan", "metrics/rounds/round", "timing/train_seconds", "timing/comm_seconds",
       "timing/eval_seconds", "timing/io_seconds", "timing/bytes_sent", "timing/bytes_received",
       "metrics/eval/round", "metrics/eval/accuracy", "metrics/eval/accuracy_mean", "metrics/eval/accuracy_std",
       "metrics/eval/loss", "metrics/eval/auc", "metrics/eval/client_accuracy", "partition/placement",
       "partition/replacements/round", "partition/replacements/placement", "timing/bytes_sent_off_node",
       "timing/bytes_received_off_node"},
      {"format", "complete", "rounds_done", "elapsed_seconds", "config_toml", "config_crc32", "world_size",
       "created", "rows", "numel", "num_clients"}};
  return n;
}

// An algorithm whose state is what the input asks for, read the way the real ones read theirs:
// globals by load_state, per-client rows through the client-state store (kind 2: rows the
// checkpoint creates; kind 3: rows init() made, restored into).
class FakeAlgorithm : public Algorithm {
 public:
  FakeAlgorithm(uint8_t loads, int64_t clients) : loads_(loads) {
    for (int64_t c = 0; c < clients; ++c) hosted_.push_back(c);
  }
  std::string name() const override { return "fuzz"; }
  bool personalised() const override { return true; }
  void init(const AlgoContext& context) override {
    for (size_t i = 0; i < kStates.size(); ++i) {
      if (kind(i) < 2) continue;
      RowState& rows = context.states->rows(kStates[i], kParams, torch::kFloat32);
      if (kind(i) == 3)
        for (int64_t c : hosted_) rows.put(c, torch::zeros({kParams}));
    }
  }
  void client_begin(int64_t, torch::Tensor&) override {}
  void server_step(const ServerStep&) override {}
  void eval_params(int64_t, torch::Tensor&) override {}
  ProtocolFloats protocol_floats() const override { return {0, 0}; }
  void load_state(StateReader& in) override {
    for (size_t i = 0; i < kStates.size(); ++i) {
      if (kind(i) != 1) continue;
      torch::Tensor model = torch::zeros({kParams});
      restore_into(model, in.global(kStates[i]), kStates[i]);
    }
  }
  const std::vector<int64_t>& hosted() const { return hosted_; }

 private:
  int kind(size_t state) const { return (loads_ >> (2 * state)) & 3; }
  uint8_t loads_;
  std::vector<int64_t> hosted_;
};

// The trailer the writer appends (sim/checkpoint.cpp, io/SCHEMA.md): magic, CRC-32, 4 zero bytes.
void seal(const std::string& path, int how) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint32_t crc = static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
  if (how == 1) crc ^= 1;
  if (how == 3) {
    bytes.resize(9);
  } else if (how != 2) {
    bytes += "FSCKPT01";
    for (int b = 0; b < 4; ++b) bytes += static_cast<char>((crc >> (8 * b)) & 0xff);
    bytes.append(4, '\0');
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  torch::set_num_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::ByteReader in(data, size);
  const uint8_t flags = in.u8(), rounds = in.u8(), clients = in.u8() % 16, loads = in.u8();
  const std::string dir = fuzz::fresh_temp_dir();
  const std::string path = dir + "/" + (flags & 4 ? fmt::format("ckpt-{:06}.h5", rounds) : "checkpoint.h5");
  fuzz::build_h5_file(path, in, names());
  seal(path, flags & 3);

  if (!fuzz::accepts([&] { read_checkpoint_meta(path, !(flags & 8)); })) return 0;
  FakeAlgorithm algorithm(loads, clients);
  AlgoContext context;
  algorithm.init(context);
  fuzz::accepts([&] { load_checkpoint_state(path, algorithm, *context.states, algorithm.hosted(), clients); });
  return 0;
}
