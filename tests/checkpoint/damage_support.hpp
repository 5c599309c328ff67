#pragma once
// Damaged checkpoints for the tests of tests/checkpoint: a run of 4 rounds with a checkpoint after
// each (the newest 3 kept), bytes read and written, and a checkpoint edited and sealed again with a
// valid trailer (intact bytes, lying content). Rank 0 only: reading a checkpoint is serial.
#include <gtest/gtest.h>
#include <mpi.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "io/h5.hpp"
#include "mpi/mpi_communicator.hpp"
#include "sim/checkpoint.hpp"
#include "tests/checkpoint/resume_support.hpp"
#include "tests/engine/engine_test_support.hpp"

namespace fedsaf::test {

// fedsaf with a split model, 4 rounds, 6 clients, a checkpoint after every round (3 kept), ξ every round.
inline Config damage_config(std::vector<std::string> extra = {}) {
  std::vector<std::string> overrides = {"run.rounds=4", "model.name=mlp", "model.hidden=[16]", "model.n_head=1",
                                        "run.checkpoint_every=1", "run.checkpoint_keep=3", "attention.every=1"};
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  return small_config("fedsaf", overrides);
}

inline std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}
inline void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

class CheckpointDamage : public ::testing::Test {
 protected:
  void SetUp() override {
    MpiCommunicator world(MPI_COMM_WORLD);
    if (world.rank() != 0) GTEST_SKIP() << "serial checks run on rank 0";
    MpiCommunicator self(MPI_COMM_SELF);
    out_ = dir_ / "run";
    run_into(damage_config(), out_, self);
    ckpts_ = checkpoint_dir(out_);
    ASSERT_TRUE(fs::exists(ckpts_ + "/ckpt-000004.h5"));
    ASSERT_TRUE(fs::exists(ckpts_ + "/ckpt-000003.h5"));
    ASSERT_TRUE(fs::exists(ckpts_ + "/ckpt-000002.h5"));
    EXPECT_FALSE(fs::exists(ckpts_ + "/ckpt-000001.h5")) << "keep = 3";
  }
  std::optional<CheckpointMeta> find(std::vector<std::string>& warnings) {
    return find_checkpoint(ckpts_, [&](const std::string& w) { warnings.push_back(w); });
  }
  TempDir dir_{"fedsaf-damage"};
  std::string out_, ckpts_;
};

// Edits the checkpoint at path with `edit` and seals it again with a valid trailer (as io/SCHEMA.md
// says): what a checkpoint looks like when its bytes are intact but its content lies.
inline void edit_and_reseal(const std::string& path, const std::function<void(h5::File&)>& edit) {
  std::vector<char> bytes = read_bytes(path);
  bytes.resize(bytes.size() - 16);  // drop the trailer
  write_bytes(path, bytes);
  {
    h5::File file = h5::File::open(path, h5::Mode::kReadWrite);
    edit(file);
    file.close();
  }
  bytes = read_bytes(path);
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size()));
  const char trailer[16] = {'F', 'S', 'C', 'K', 'P', 'T', '0', '1', static_cast<char>(crc & 0xff), static_cast<char>((crc >> 8) & 0xff),
                            static_cast<char>((crc >> 16) & 0xff), static_cast<char>((crc >> 24) & 0xff), 0, 0, 0, 0};
  bytes.insert(bytes.end(), trailer, trailer + 16);
  write_bytes(path, bytes);
}

}  // namespace fedsaf::test
