// Resuming from checkpoints through the round loop, at 1 and 2 ranks: the same rank count gives a
// run file and final model bit-identical to an uninterrupted run (every algorithm); another rank
// count agrees within 1e-5; damaged checkpoints fall back to the previous one.
#include <gtest/gtest.h>
#include <mpi.h>
#include <zlib.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "io/h5.hpp"
#include "mpi/mpi_communicator.hpp"
#include "mpi/environment.hpp"
#include "sim/checkpoint.hpp"
#include "sim/engine.hpp"
#include "tests/checkpoint/damage_support.hpp"
#include "tests/checkpoint/resume_support.hpp"
#include "tests/checkpoint/run_file_compare.hpp"
#include "tests/common/test_support.hpp"
#include "tests/engine/engine_test_support.hpp"

namespace fedsaf {
namespace {

namespace fs = std::filesystem;
using test::newest;
using test::run_into;
using test::SharedDir;

// test::small_config with a split model, `rounds` rounds, checkpoints every 2 rounds and every ξ.
Config small_config(const std::string& algorithm, int64_t rounds, std::vector<std::string> extra = {}) {
  std::vector<std::string> overrides = {"run.rounds=" + std::to_string(rounds), "model.name=mlp", "model.hidden=[16]",
                                        "model.n_head=1", "run.checkpoint_every=2", "attention.every=1"};
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  return test::small_config(algorithm, overrides);
}

class SameRanks : public ::testing::TestWithParam<std::string> {};

// Stop after 3 of 7 rounds (a checkpoint after the last round of that segment), resume with
// run.rounds = 7 (a key that may change): identical to one uninterrupted 7-round run.
TEST_P(SameRanks, ResumeIsBitIdenticalToAnUninterruptedRun) {
  MpiCommunicator world(MPI_COMM_WORLD);
  SharedDir dir(world);
  const RunResult whole = run_into(small_config(GetParam(), 7), dir / "whole", world);
  const RunResult first = run_into(small_config(GetParam(), 3), dir / "resumed", world);
  const auto meta = newest(dir / "resumed", world);
  ASSERT_TRUE(meta.has_value());
  EXPECT_EQ(meta->rounds_done, 3);
  const RunResult rest = run_into(small_config(GetParam(), 7), dir / "resumed", world, meta);
  EXPECT_EQ(rest.first_round, 3);
  EXPECT_EQ(rest.final_params, whole.final_params);
  EXPECT_EQ(rest.cohort_history, whole.cohort_history);
  EXPECT_EQ(rest.summary.best_accuracy, whole.summary.best_accuracy);
  EXPECT_EQ(rest.summary.mean_last10, whole.summary.mean_last10);
  if (world.rank() == 0) test::expect_same_results(dir / "whole/run.h5", dir / "resumed/run.h5", 0.0);
}
INSTANTIATE_TEST_SUITE_P(Algorithms, SameRanks,
                         ::testing::Values("local", "fedavg", "fedprox", "fedper", "fedamp", "fedsaf", "fedavgm"));

// Checkpoints whose client rows are written a row per collective write (the ranks holding
// different numbers of rows, so some write nothing while others still write) resume exactly as
// those written in one block: the rows land where the reader looks for them.
TEST(Blocks, RowsWrittenInBlocksResumeBitIdentically) {
  MpiCommunicator world(MPI_COMM_WORLD);
  SharedDir dir(world);
  const RunResult whole = run_into(small_config("fedsaf", 5), dir / "whole", world);
  ::setenv("FEDSAF_CHECKPOINT_BLOCK_BYTES", "1", 1);  // test hook in src/sim/checkpoint.cpp
  run_into(small_config("fedsaf", 3), dir / "resumed", world);
  ::unsetenv("FEDSAF_CHECKPOINT_BLOCK_BYTES");
  const RunResult rest = run_into(small_config("fedsaf", 5), dir / "resumed", world, newest(dir / "resumed", world));
  EXPECT_EQ(rest.first_round, 3);
  EXPECT_EQ(rest.final_params, whole.final_params);
  if (world.rank() == 0) test::expect_same_results(dir / "whole/run.h5", dir / "resumed/run.h5", 0.0);
}

// A checkpoint written by all ranks continues on rank 0 alone (and one written by rank 0 alone
// on all ranks): clients are re-placed, results agree within 1e-5.
TEST(OtherRanks, ResumeOnAnotherRankCountAgreesWithin1e5) {
  MpiCommunicator world(MPI_COMM_WORLD);
  if (world.size() == 1) GTEST_SKIP() << "needs 2 or more ranks";
  SharedDir dir(world);
  for (const std::string algorithm : {"fedsaf", "fedamp", "fedavg"}) {
    const RunResult whole = run_into(small_config(algorithm, 6), dir / (algorithm + "-whole"), world);
    // all ranks → rank 0 alone
    run_into(small_config(algorithm, 2), dir / (algorithm + "-down"), world);
    if (world.rank() == 0) {
      MpiCommunicator self(MPI_COMM_SELF);
      const RunResult rest = run_into(small_config(algorithm, 6), dir / (algorithm + "-down"), self,
                                      newest(dir / (algorithm + "-down"), self));
      EXPECT_EQ(rest.first_round, 2);
      test::expect_same_results(dir / (algorithm + "-whole/run.h5"), dir / (algorithm + "-down/run.h5"), 1e-5);
    }
    // rank 0 alone → all ranks
    if (world.rank() == 0) {
      MpiCommunicator self(MPI_COMM_SELF);
      run_into(small_config(algorithm, 2), dir / (algorithm + "-up"), self);
    }
    world.barrier();
    const RunResult rest = run_into(small_config(algorithm, 6), dir / (algorithm + "-up"), world,
                                    newest(dir / (algorithm + "-up"), world));
    EXPECT_EQ(rest.first_round, 2);
    if (world.rank() == 0) test::expect_same_results(dir / (algorithm + "-whole/run.h5"), dir / (algorithm + "-up/run.h5"), 1e-5);
  }
}

// ---- damaged checkpoints (rank 0 only: reading is serial) ---------------------------------------

using Damage = test::CheckpointDamage;
using test::edit_and_reseal;
using test::read_bytes;
using test::write_bytes;

TEST_F(Damage, AFlippedByteAnywhereFallsBackToThePreviousCheckpoint) {
  const std::string newest_path = ckpts_ + "/ckpt-000004.h5";
  const std::vector<char> good = read_bytes(newest_path);
  for (size_t offset : {size_t{0}, size_t{100}, size_t{2048}, good.size() / 2, good.size() - 40, good.size() - 20,
                        good.size() - 5}) {
    std::vector<char> bad = good;
    bad[offset] = static_cast<char>(bad[offset] ^ 0x10);
    write_bytes(newest_path, bad);
    std::vector<char> none;
    std::vector<std::string> warnings;
    const auto meta = find(warnings);
    ASSERT_TRUE(meta.has_value()) << "offset " << offset;
    EXPECT_EQ(meta->rounds_done, 3) << "offset " << offset;
    ASSERT_EQ(warnings.size(), 1u) << "offset " << offset;
    EXPECT_NE(warnings[0].find(newest_path), std::string::npos) << warnings[0];
  }
  write_bytes(newest_path, good);
  std::vector<std::string> warnings;
  EXPECT_EQ(find(warnings)->rounds_done, 4);
  EXPECT_TRUE(warnings.empty());
}

TEST_F(Damage, TruncationAndUnfinishedRenamesAreSkipped) {
  const std::string newest_path = ckpts_ + "/ckpt-000004.h5";
  const std::vector<char> good = read_bytes(newest_path);
  for (size_t keep : {size_t{0}, size_t{10}, good.size() / 3, good.size() - 1}) {
    write_bytes(newest_path, std::vector<char>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(keep)));
    std::vector<std::string> warnings;
    EXPECT_EQ(find(warnings)->rounds_done, 3) << "truncated to " << keep;
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("truncated"), std::string::npos) << warnings[0];
  }
  // The rename never happened: the complete file sits under its temporary name.
  fs::rename(newest_path, ckpts_ + "/.ckpt-000004.h5.tmp");
  write_bytes(ckpts_ + "/.ckpt-000004.h5.tmp", good);
  std::vector<std::string> warnings;
  EXPECT_EQ(find(warnings)->rounds_done, 3);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(".ckpt-000004.h5.tmp"), std::string::npos) << warnings[0];
}

// A checkpoint of another format version, with a valid trailer.
TEST_F(Damage, AnotherFormatVersionIsSkippedAndNamed) {
  const std::string newest_path = ckpts_ + "/ckpt-000004.h5";
  edit_and_reseal(newest_path, [](h5::File& file) {
    file.open_group("checkpoint").attrs().set("format", std::string("fedsaf-checkpoint/99"));
  });
  std::vector<std::string> warnings;
  EXPECT_EQ(find(warnings)->rounds_done, 3);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("fedsaf-checkpoint/99"), std::string::npos) << warnings[0];
}

// Intact bytes, lying content: every inconsistent field is named and the previous checkpoint used.
TEST_F(Damage, InconsistentContentWithAValidCrcFallsBackToThePreviousCheckpoint) {
  const std::string newest_path = ckpts_ + "/ckpt-000004.h5";
  const std::vector<char> good = read_bytes(newest_path);
  const std::string theta = "checkpoint/state/theta";
  const auto replace = [](h5::File& file, const std::string& path, const std::vector<int64_t>& values,
                          const std::vector<int64_t>& shape) {
    file.remove(path);
    file.write<int64_t>(path, values, shape);
  };
  const std::vector<std::pair<std::function<void(h5::File&)>, std::string>> cases = {
      {[&](h5::File& f) { f.open_group(theta).attrs().set("numel", int64_t{3}); }, "state 'theta': values must be ["},
      {[&](h5::File& f) { replace(f, "checkpoint/state/plan", {1, 2, 3, 4}, {2, 2}); },
       "state 'plan': stored with 2 dimensions, expected one"},
      {[&](h5::File& f) {
         const int64_t rows = f.open_group(theta).attrs().get_int("rows");
         replace(f, theta + "/clients", std::vector<int64_t>(static_cast<size_t>(rows), 0), {rows});
       },
       "state 'theta': client 0 has two rows"},
      {[&](h5::File& f) {
         std::vector<int64_t> ids = f.open_dataset(theta + "/clients").read<int64_t>();
         ids[0] = -3;
         replace(f, theta + "/clients", ids, {static_cast<int64_t>(ids.size())});
       },
       "state 'theta': client id -3 is negative"},
      {[](h5::File& f) { f.open_group("checkpoint").attrs().set("rounds_done", int64_t{-5}); },
       "rounds_done = -5: a checkpoint follows at least one round"},
      {[](h5::File& f) { f.open_group("checkpoint").attrs().set("rounds_done", int64_t{2}); },
       "its name says 4 rounds done, its content 2"},
  };
  for (const auto& [edit, problem] : cases) {
    write_bytes(newest_path, good);
    edit_and_reseal(newest_path, edit);
    std::vector<std::string> warnings;
    const auto meta = find(warnings);
    ASSERT_TRUE(meta.has_value()) << problem;
    EXPECT_EQ(meta->rounds_done, 3) << problem;
    ASSERT_EQ(warnings.size(), 1u) << problem;
    EXPECT_NE(warnings[0].find(newest_path), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find(problem), std::string::npos) << warnings[0];
  }
}

// A checkpoint whose rows name a client the run does not have (N = 6 here) is refused on resume,
// naming the file, the state and the client, rather than silently ignoring the row.
TEST_F(Damage, AClientBeyondTheRunsClientsIsNamedOnResume) {
  const std::string newest_path = ckpts_ + "/ckpt-000004.h5";
  const std::string clients = "checkpoint/state/theta/clients";
  edit_and_reseal(newest_path, [&](h5::File& f) {
    std::vector<int64_t> ids = f.open_dataset(clients).read<int64_t>();
    ids.back() = 1000;
    f.remove(clients);
    f.write<int64_t>(clients, ids, {static_cast<int64_t>(ids.size())});
  });
  MpiCommunicator self(MPI_COMM_SELF);
  const CheckpointMeta meta = read_checkpoint_meta(newest_path);
  try {
    run_into(small_config("fedsaf", 6, {"run.checkpoint_every=1"}), out_, self, meta);
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(newest_path + ": state 'theta' holds client 1000, but this run has 6 clients"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(Damage, NoUsableCheckpointRefusesToStartOver) {
  for (const char* name : {"ckpt-000002.h5", "ckpt-000003.h5", "ckpt-000004.h5"}) fs::resize_file(ckpts_ + "/" + name, 64);
  std::vector<std::string> warnings;
  try {
    find(warnings);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(ckpts_ + ": none of its 3 checkpoint(s) is usable"), std::string::npos) << e.what();
  }
  EXPECT_EQ(warnings.size(), 3u);
}

}  // namespace
}  // namespace fedsaf
