// `fedsaf run` end to end under mpirun: progress output, --quiet, per-rank logs, and the two error
// paths (an error every rank sees exits cleanly with one message).
#include <gtest/gtest.h>
#include <torch/torch.h>  // TORCH_VERSION, torch::cuda

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include "io/h5.hpp"
#include "tests/common/test_support.hpp"

namespace {

using Outcome = fedsaf::test::CommandResult;
Outcome run_shell(const std::string& command) { return fedsaf::test::run_command(command); }

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

// The line by which OUT/.run.h5.unfinished names the file fedsaf created (io/run_file_marker.cpp).
std::string marker_identity(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "";
  return "file " + std::to_string(static_cast<unsigned long long>(st.st_dev)) + " " +
         std::to_string(static_cast<unsigned long long>(st.st_ino)) + "\n";
}

class RunCli : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/fedsaf-cli-XXXXXX";
    dir_ = mkdtemp(dir_template);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string mpirun(int ranks, const std::string& args) {
    return "mpirun -n " + std::to_string(ranks) + " --bind-to none " + FEDSAF_BINARY + " run " + args;
  }
  std::string dir_;
};

TEST_F(RunCli, TwoRanksPrintOneProgressLinePerRoundAndWriteTheRunFile) {
  const Outcome o = run_shell(mpirun(2, "--set run.rounds=3 --set run.clients=6 --out " + dir_ + "/out --log-dir " + dir_ + "/logs"));
  ASSERT_EQ(o.status, 0) << o.output;
  EXPECT_EQ(count(o.output, "round 1/3 "), 1u) << o.output;  // rank 0 only
  EXPECT_EQ(count(o.output, "round 3/3 "), 1u) << o.output;
  EXPECT_NE(o.output.find("ETA"), std::string::npos);
  EXPECT_NE(o.output.find("on 2 rank(s)"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/out/run.h5"));
  EXPECT_GT(std::filesystem::file_size(dir_ + "/logs/rank-0.log"), 0u);
  EXPECT_GT(std::filesystem::file_size(dir_ + "/logs/rank-1.log"), 0u);
  EXPECT_EQ(o.output.find('\r'), std::string::npos) << "a pipe gets no in-round progress line";
  // Each rank's log times every set-up step, in the order they run, then the whole.
  for (const char* log : {"/logs/rank-0.log", "/logs/rank-1.log"}) {
    std::ifstream in(dir_ + log);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::regex steps(
        R"(set-up on this rank: data [0-9.]+ s, partition [0-9.]+ s, placement [0-9.]+ s, model [0-9.]+ s, )"
        R"(algorithm [0-9.]+ s, engine [0-9.]+ s, run file [0-9.]+ s, [0-9.]+ s in all)");
    EXPECT_TRUE(std::regex_search(text, steps)) << log << ":\n" << text;
  }
}

// On a terminal (a pseudo-terminal from script(1)), rank 0 shows its progress inside each round
// on one line rewritten in place, erased before the round's own line.
TEST_F(RunCli, ATerminalSeesProgressInsideTheRound) {
  const Outcome o = run_shell("script -qfec '" + mpirun(1, "--set run.rounds=2 --set run.clients=4 --out " + dir_) +
                              "' /dev/null");
  ASSERT_EQ(o.status, 0) << o.output;
  EXPECT_NE(o.output.find("\r\x1b[Kround 1/2  training 0/4 clients  "), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("\r\x1b[Kround 2/2  evaluation 0/4 clients  "), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("\r\x1b[Kround 2/2  acc "), std::string::npos) << "erased before the round's line";
  EXPECT_EQ(count(o.output, "\nround 1/2  acc "), 0u) << "the round's line follows the erase, not a new line";
}

// lr = 1e6 drives the training loss to ~1e24 while it stays finite: one warning naming the round,
// the loss and train.lr (not one per round), and the run still ends normally.
TEST_F(RunCli, AnExplodingFiniteLossIsWarnedOnce) {
  const Outcome o = run_shell(mpirun(1, "--set run.rounds=3 --set run.clients=6 --set run.algorithm=local "
                                        "--set model.name=mlp --set train.lr=1e6 --out " + dir_));
  ASSERT_EQ(o.status, 0) << o.output;
  EXPECT_EQ(count(o.output, "warning: round 1: the mean training loss is"), 1u) << o.output;
  EXPECT_EQ(count(o.output, "the mean training loss is"), 1u) << o.output;
  EXPECT_NE(o.output.find("train.lr = 1e+06 is likely too large"), std::string::npos) << o.output;
  const Outcome sane = run_shell(mpirun(1, "--set run.rounds=2 --set run.clients=6 --out " + dir_ + "/sane"));
  ASSERT_EQ(sane.status, 0) << sane.output;
  EXPECT_EQ(sane.output.find("warning"), std::string::npos) << sane.output;
}

TEST_F(RunCli, QuietPrintsNothing) {
  const Outcome o = run_shell(mpirun(1, "--quiet --set run.rounds=2 --set run.clients=4 --out " + dir_));
  ASSERT_EQ(o.status, 0) << o.output;
  EXPECT_EQ(o.output.find("round"), std::string::npos) << o.output;
}

TEST_F(RunCli, ABadKeyOnEveryRankExitsCleanlyWithOneMessage) {
  const Outcome o = run_shell(mpirun(2, "--set train.lrr=1 --out " + dir_));
  EXPECT_EQ(o.status, 1) << o.output;
  EXPECT_EQ(count(o.output, "unknown key 'train.lrr'; did you mean 'train.lr'?"), 1u) << o.output;
  EXPECT_EQ(o.output.find("fatal"), std::string::npos) << o.output;  // the agreed path, not an abort
}

TEST_F(RunCli, AMissingDataFileIsNamedOnce) {
  const Outcome o = run_shell(mpirun(2, "--set data.dataset=hdf5 --set data.path=" + dir_ + "/nothing.h5 --out " + dir_));
  EXPECT_EQ(o.status, 1) << o.output;
  EXPECT_EQ(count(o.output, dir_ + "/nothing.h5"), 1u) << o.output;
  EXPECT_EQ(o.output.find("fatal"), std::string::npos) << o.output;
}

TEST_F(RunCli, AnExistingRunFileIsNeverOverwrittenWithoutForce) {
  ASSERT_EQ(run_shell(mpirun(1, "--quiet --set run.rounds=3 --set run.clients=4 --out " + dir_)).status, 0);
  const auto size = std::filesystem::file_size(dir_ + "/run.h5");
  // --fresh: do not resume from the finished run's checkpoint, start over, which needs --force.
  const Outcome refused = run_shell(mpirun(2, "--quiet --fresh --set run.rounds=1 --set run.clients=4 --out " + dir_));
  EXPECT_EQ(refused.status, 1);
  EXPECT_EQ(count(refused.output, dir_ + "/run.h5 already exists"), 1u) << refused.output;
  EXPECT_EQ(std::filesystem::file_size(dir_ + "/run.h5"), size);
  EXPECT_NE(run_shell(std::string(FEDSAF_BINARY) + " inspect " + dir_ + "/run.h5").output.find("3 of 3 rounds"),
            std::string::npos);
  // Without --fresh it would resume, and a checkpoint 3 rounds in cannot become a 1-round run.
  const Outcome shorter = run_shell(mpirun(1, "--quiet --set run.rounds=1 --set run.clients=4 --out " + dir_));
  EXPECT_EQ(shorter.status, 1);
  EXPECT_EQ(count(shorter.output, "it has 3 rounds done, more than run.rounds = 1"), 1u) << shorter.output;
  ASSERT_EQ(run_shell(mpirun(1, "--quiet --fresh --force --set run.rounds=1 --set run.clients=4 --out " + dir_)).status, 0);
  EXPECT_NE(run_shell(std::string(FEDSAF_BINARY) + " inspect " + dir_ + "/run.h5").output.find("1 of 1 rounds"),
            std::string::npos);
}

// A run killed while HDF5 was writing its run file (before its first checkpoint) can leave a
// run.h5 nothing can read; OUT/.run.h5.unfinished says fedsaf was writing it, so the next start
// (a requeued job) starts over by itself. A completed run removes the marker.
TEST_F(RunCli, AnUnreadableRunFileOfAKilledRunStartsOver) {
  const std::string run = "--quiet --set run.rounds=1 --set run.clients=4 --out " + dir_;
  std::ofstream(dir_ + "/run.h5") << "\x89HDF\r\n\x1a\n half-written superblock";
  std::ofstream(dir_ + "/.run.h5.unfinished") << "fedsaf is writing run.h5\n" << marker_identity(dir_ + "/run.h5");
  const Outcome again = run_shell(mpirun(2, run));
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_EQ(count(again.output, dir_ + "/run.h5 belongs to a run stopped before its first checkpoint (killed while "
                                "writing it: unreadable): starting over"),
            1u)
      << again.output;
  EXPECT_NE(run_shell(std::string(FEDSAF_BINARY) + " inspect " + dir_ + "/run.h5").output.find("1 of 1 rounds"),
            std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/.run.h5.unfinished")) << "removed when the run completed";
}

// A marker binds the file fedsaf created (issue 25 §1): a run that fails before creating run.h5
// leaves none, and a marker naming another file (run.h5 replaced since) never makes a valid HDF5
// file of another program replaceable without --force.
TEST_F(RunCli, AMarkerNeverMakesAnotherProgramsFileReplaceable) {
  const std::string run = "--quiet --set run.rounds=1 --set run.clients=4 --out " + dir_;
  const Outcome failed = run_shell(mpirun(1, run + " --set data.dataset=hdf5 --set data.path=" + dir_ + "/absent.h5"));
  ASSERT_EQ(failed.status, 1) << failed.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/.run.h5.unfinished")) << "no run.h5 was created: no marker";
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/run.h5"));

  // A marker bound to a file that another program has since replaced (a new file, renamed in).
  std::ofstream(dir_ + "/run.h5") << "\x89HDF\r\n\x1a\n half-written superblock";
  std::ofstream(dir_ + "/.run.h5.unfinished") << "fedsaf is writing run.h5\n" << marker_identity(dir_ + "/run.h5");
  {
    fedsaf::h5::File other = fedsaf::h5::File::open(dir_ + "/other.h5", fedsaf::h5::Mode::kCreate);
    other.write<int64_t>("measurements", {1, 2, 3});
    other.close();
  }
  std::filesystem::rename(dir_ + "/other.h5", dir_ + "/run.h5");
  const auto size = std::filesystem::file_size(dir_ + "/run.h5");
  const Outcome refused = run_shell(mpirun(1, run));
  EXPECT_EQ(refused.status, 1) << refused.output;
  EXPECT_EQ(count(refused.output, dir_ + "/run.h5 exists and is not a fedsaf run file fedsaf can read"), 1u)
      << refused.output;
  EXPECT_EQ(refused.output.find("killed while writing it"), std::string::npos) << refused.output;
  EXPECT_EQ(std::filesystem::file_size(dir_ + "/run.h5"), size) << "left as it was";
  EXPECT_EQ(fedsaf::h5::File::open(dir_ + "/run.h5", fedsaf::h5::Mode::kRead).open_dataset("measurements").read<int64_t>(),
            (std::vector<int64_t>{1, 2, 3}));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/.run.h5.unfinished")) << "the stale marker is removed";
}

// OUT/checkpoints as a regular file is named as such (issue 25 §8), not hidden behind "run.h5
// already exists"; both files are left as they were.
TEST_F(RunCli, ACheckpointsPathThatIsAFileIsNamed) {
  std::ofstream(dir_ + "/run.h5") << "somebody's notes\n";
  std::ofstream(dir_ + "/checkpoints") << "not a folder\n";
  const Outcome o = run_shell(mpirun(1, "--quiet --set run.rounds=1 --set run.clients=4 --out " + dir_));
  EXPECT_EQ(o.status, 1) << o.output;
  EXPECT_EQ(count(o.output, dir_ + "/checkpoints: is not a folder"), 1u) << o.output;
  EXPECT_EQ(o.output.find("already exists"), std::string::npos) << o.output;
  EXPECT_EQ(std::filesystem::file_size(dir_ + "/checkpoints"), 13u);
}

// OUT/run.h5 that fedsaf cannot prove it wrote is never replaced without --force; a FIFO never.
TEST_F(RunCli, AFileFedsafDidNotWriteIsNeverReplacedWithoutForce) {
  const std::string run = "--quiet --set run.rounds=1 --set run.clients=4 --out " + dir_;
  std::ofstream(dir_ + "/run.h5") << "somebody's notes\n";
  const Outcome text = run_shell(mpirun(2, run));
  EXPECT_EQ(text.status, 1) << text.output;
  EXPECT_EQ(count(text.output, dir_ + "/run.h5 exists and is not a fedsaf run file fedsaf can read"), 1u) << text.output;
  EXPECT_EQ(text.output.find("stopped before its first checkpoint"), std::string::npos) << text.output;
  EXPECT_EQ(std::filesystem::file_size(dir_ + "/run.h5"), 17u) << "left as it was";
  ASSERT_EQ(run_shell(mpirun(1, run + " --force")).status, 0);
  EXPECT_NE(run_shell(std::string(FEDSAF_BINARY) + " inspect " + dir_ + "/run.h5").output.find("1 of 1 rounds"),
            std::string::npos);
  std::filesystem::remove(dir_ + "/run.h5");
  std::filesystem::remove_all(dir_ + "/checkpoints");
  ASSERT_EQ(mkfifo((dir_ + "/run.h5").c_str(), 0600), 0);
  const Outcome fifo = run_shell(mpirun(2, run + " --force"));
  EXPECT_EQ(fifo.status, 1) << fifo.output;
  EXPECT_EQ(count(fifo.output, dir_ + "/run.h5: not a regular file"), 1u) << fifo.output;
  EXPECT_EQ(fifo.output.find("fatal"), std::string::npos) << fifo.output;  // the agreed path, not an abort
}

// A folder that cannot be made is named first, in words, not in the C++ library's
// "filesystem error: ... [PATH]" form.
TEST_F(RunCli, AnOutputFolderThatCannotBeMadeIsNamedInWords) {
  const Outcome o = run_shell(mpirun(1, "--set run.rounds=1 --out /proc/fedsaf-no-such/out"));
  EXPECT_EQ(o.status, 1) << o.output;
  EXPECT_EQ(count(o.output, "fedsaf: error: /proc/fedsaf-no-such/out: cannot create directories: "), 1u) << o.output;
  EXPECT_EQ(o.output.find("filesystem error"), std::string::npos) << o.output;
  EXPECT_EQ(o.output.find("internal error"), std::string::npos) << o.output;
}

// `fedsaf --version` names the LibTorch it runs on, its CUDA (or "CPU only") and the GPUs it sees.
TEST(VersionCli, NamesLibTorchCudaAndTheVisibleGpus) {
  const Outcome o = fedsaf::test::run_fedsaf("--version");
  ASSERT_EQ(o.status, 0) << o.output;
  EXPECT_NE(o.output.find("LibTorch " TORCH_VERSION), std::string::npos) << o.output;
  EXPECT_TRUE(o.output.find("(CUDA ") != std::string::npos || o.output.find("(CPU only)") != std::string::npos) << o.output;
  EXPECT_TRUE(o.output.find("GPUs: none visible") != std::string::npos || o.output.find("GPU 0: ") != std::string::npos)
      << o.output;
}

// The commit --version (and every run file) names is the checkout's HEAD: the build configures
// again when HEAD moves, so a rebuild after a pull or commit never keeps an older commit.
TEST(VersionCli, NamesTheCommitTheSourcesAreAt) {
  const Outcome head = run_shell("git -C " FEDSAF_SOURCE_DIR " rev-parse --short=12 HEAD 2>/dev/null");
  if (head.status != 0) GTEST_SKIP() << "the sources are not a git checkout";
  const std::string commit = head.output.substr(0, head.output.find('\n'));
  const Outcome o = fedsaf::test::run_fedsaf("--version");
  ASSERT_EQ(o.status, 0) << o.output;
  EXPECT_NE(o.output.find("(git " + commit + ","), std::string::npos) << "HEAD is " << commit << "; " << o.output;
}

// Device keys that cannot be honoured here end the run with one message naming the key.
TEST_F(RunCli, ImpossibleDeviceSettingsAreOneClearError) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "this machine has a GPU: run.device = cuda is possible";
  const Outcome cuda = run_shell(mpirun(2, "--set run.device=cuda --out " + dir_ + "/cuda"));
  EXPECT_EQ(cuda.status, 1) << cuda.output;
  EXPECT_EQ(count(cuda.output, "run.device = \"cuda\" but no GPU is visible"), 1u) << cuda.output;
  const Outcome bad = run_shell(mpirun(1, "--set run.device=gpu --out " + dir_ + "/gpu"));
  EXPECT_NE(bad.status, 0) << bad.output;
  EXPECT_NE(bad.output.find("run.device"), std::string::npos) << bad.output;
}

}  // namespace
