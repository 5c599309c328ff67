// Checkpoints whose bytes are intact (valid CRC) but whose run-file tables, model state or per-client
// fields lie (issue 25 §2, §3, §5, §6, §8): each is named as a damaged checkpoint and the previous
// one used, or (an algorithm's own field) refused on resume naming the checkpoint.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "io/h5.hpp"
#include "mpi/mpi_communicator.hpp"
#include "sim/checkpoint.hpp"
#include "tests/checkpoint/damage_support.hpp"

namespace fedsaf {
namespace {

namespace fs = std::filesystem;
using Damage = test::CheckpointDamage;
using test::edit_and_reseal;
using test::read_bytes;
using test::write_bytes;

// An extendible int64 data set at path (as the run file's tables are), replacing any there.
void put_rows(h5::File& f, const std::string& path, const std::vector<int64_t>& values, const std::vector<int64_t>& shape) {
  if (f.exists(path)) f.remove(path);
  f.create_dataset(path, h5::DType::kI64, shape, 4).write<int64_t>(values);
}

// The /partition/replacements table of a run that re-placed its 6 clients once after round index 1.
void put_replacements(h5::File& f, int64_t round, const std::vector<int64_t>& placement, int64_t width) {
  if (!f.exists("partition/replacements")) f.create_group("partition/replacements");
  put_rows(f, "partition/replacements/round", {round}, {1});
  put_rows(f, "partition/replacements/placement", placement, {1, width});
}

TEST_F(Damage, LyingTablesAndNonFiniteStateFallBackToThePreviousCheckpoint) {
  const std::string newest_path = ckpts_ + "/ckpt-000004.h5";
  const std::vector<char> good = read_bytes(newest_path);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const int64_t evals = h5::File::open(newest_path, h5::Mode::kRead).open_dataset("metrics/eval/round").shape()[0];
  ASSERT_GE(evals, 1);
  const std::vector<std::pair<std::function<void(h5::File&)>, std::string>> cases = {
      // §2: rows narrower than the client count, rounds < 0, ranks the run never had, fixed-size rows
      {[](h5::File& f) { put_replacements(f, 1, {0, 0, 0}, 3); },
       "/partition/replacements/placement: shape [1, 3], expected [1, 6]"},
      {[](h5::File& f) { put_replacements(f, -1, std::vector<int64_t>(6, 0), 6); },
       "/partition/replacements/round: row 0 says round index -1"},
      {[](h5::File& f) { put_replacements(f, 1, {0, 0, 5, 0, 0, 0}, 6); },
       "/partition/replacements/placement: entry 2 is rank 5, but the run had 1 rank(s)"},
      {[](h5::File& f) {
         put_replacements(f, 1, std::vector<int64_t>(6, 0), 6);
         f.remove("partition/replacements/placement");
         f.write<int64_t>("partition/replacements/placement", std::vector<int64_t>(6, 0), {1, 6});  // not extendible
       },
       "/partition/replacements/placement: its rows cannot grow"},
      // §3: an evaluation column shorter than the others
      {[](h5::File& f) {
         const std::vector<double> acc = f.open_dataset("metrics/eval/accuracy").read<double>();
         f.remove("metrics/eval/accuracy");
         f.create_dataset("metrics/eval/accuracy", h5::DType::kF64, {static_cast<int64_t>(acc.size()) - 1}, 4)
             .write<double>(std::vector<double>(acc.begin(), acc.end() - 1));
       },
       "/metrics/eval/accuracy: shape [" + std::to_string(evals - 1) + "], expected [" + std::to_string(evals) + "]"},
      {[](h5::File& f) { put_rows(f, "metrics/rounds/round", {0, 1, 2}, {3}); },
       "/metrics/rounds/round: shape [3], expected [4]"},
      // §8: the evaluation rounds missing
      {[](h5::File& f) { f.remove("metrics/eval/round"); }, "/metrics/eval/round: missing"},
      // §5: a model holding NaN
      {[&](h5::File& f) {
         h5::Dataset d = f.open_dataset("checkpoint/state/theta/values");
         std::vector<float> v = d.read<float>();
         v[1] = static_cast<float>(nan);
         d.write<float>(v);
       },
       "state 'theta': value 1 is nan (not finite)"},
  };
  for (const auto& [edit, problem] : cases) {
    write_bytes(newest_path, good);
    edit_and_reseal(newest_path, edit);
    std::vector<std::string> warnings;
    const auto meta = find(warnings);
    ASSERT_TRUE(meta.has_value()) << problem;
    EXPECT_EQ(meta->rounds_done, 3) << problem;
    ASSERT_EQ(warnings.size(), 1u) << problem;
    EXPECT_NE(warnings[0].find("checkpoint " + newest_path + " is not usable: "), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find(problem), std::string::npos) << warnings[0];
  }
  write_bytes(newest_path, good);
  std::vector<std::string> warnings;
  EXPECT_EQ(find(warnings)->rounds_done, 4) << "the untouched checkpoint passes every check";
  EXPECT_TRUE(warnings.empty()) << warnings[0];
}

// §6: FedSAF's plan [100, 7, -3] names clients a run of 6 does not have: refused on resume, naming
// the checkpoint and the client, instead of taken as is.
TEST_F(Damage, APlanOfClientsTheRunDoesNotHaveIsNamedOnResume) {
  const std::string newest_path = ckpts_ + "/ckpt-000004.h5";
  for (const auto& [plan, problem] :
       std::vector<std::pair<std::vector<int64_t>, std::string>>{{{100, 7, -3}, "client 7 is not a client of this run (ids 0..5)"},
                                                                 {{4, 1, 1}, "client 1 appears twice"},
                                                                 {{-2}, "planned round index -2 is negative"}}) {
    edit_and_reseal(newest_path, [&](h5::File& f) {
      f.remove("checkpoint/state/plan");
      f.write<int64_t>("checkpoint/state/plan", plan, {static_cast<int64_t>(plan.size())});
    });
    MpiCommunicator self(MPI_COMM_SELF);
    const CheckpointMeta meta = read_checkpoint_meta(newest_path);
    try {
      test::run_into(test::damage_config(), out_, self, meta);
      ADD_FAILURE() << "a plan with " << problem << " was accepted";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(newest_path + ": state 'plan'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(problem), std::string::npos) << e.what();
    }
  }
}

// §8: OUT/checkpoints as a regular file is said to be one, not hidden behind "run.h5 already exists".
TEST(CheckpointFolder, ARegularFileWhereTheFolderBelongsIsNamed) {
  test::TempDir dir("fedsaf-ckpt-file");
  const std::string ckpts = checkpoint_dir(dir.str());
  std::ofstream(ckpts) << "not a folder";
  try {
    find_checkpoint(ckpts, [](const std::string&) {});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(ckpts + ": is not a folder"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(find_checkpoint(dir / "absent", [](const std::string&) {}).has_value());
}

}  // namespace
}  // namespace fedsaf
