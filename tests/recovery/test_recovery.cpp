// `fedsaf run` as a user (or Slurm) meets it: a stop signal checkpoints and exits with 75; SIGKILL
// at random moments and at exact points of the checkpoint write, then the same command again,
// gives the uninterrupted run's results bit for bit; a full disk while checkpointing fails
// cleanly and leaves the previous checkpoint usable; a changed config is refused by key.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>

#include "sim/checkpoint.hpp"
#include "tests/checkpoint/run_file_compare.hpp"
#include "tests/common/test_support.hpp"

namespace fedsaf {
namespace {

namespace fs = std::filesystem;
using test::CommandResult;
using test::run_command;

// fedsaf on synthetic data, 8 clients, 12 rounds, checkpoints every 2 rounds; `extra` adds options.
std::string run_args(const std::string& out, const std::string& extra = "") {
  return std::string(FEDSAF_BINARY) + " run " + FEDSAF_SOURCE_DIR +
         "/configs/default.toml --quiet --out " + out +
         " --set run.algorithm=fedsaf --set run.clients=8 --set run.rounds=12 --set run.checkpoint_every=2"
         " --set model.name=mlp --set model.hidden=[256] --set model.n_head=1 " + extra;
}

// Starts the run into `out` in the background and, once its first checkpoint (after round 2)
// exists, runs the shell `action` on it ($pid is the run); then waits for the run and returns its
// exit status. Acting only after that checkpoint means the run is past start-up (its signal
// handlers are installed) and has a checkpoint to fall back to, however loaded the machine is.
// SIGXFSZ is ignored, so that a file-size limit makes writes fail instead of killing the run.
CommandResult act_after_first_checkpoint(const std::string& out, const std::string& action) {
  const std::string first = checkpoint_dir(out) + "/ckpt-000002.h5";
  return run_command("bash -c \"trap '' XFSZ; " + run_args(out) + " & pid=\\$!; until [ -e " + first +
                     " ] || ! kill -0 \\$pid 2>/dev/null; do sleep 0.01; done; " + action + "; wait \\$pid\"");
}

class Recovery : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    reference_dir_ = new test::TempDir("fedsaf-recovery-ref");
    const auto t0 = std::chrono::steady_clock::now();
    const CommandResult r = run_command(run_args(reference()));
    reference_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_EQ(r.status, 0) << r.output;
  }
  static void TearDownTestSuite() { delete reference_dir_; }
  static std::string reference() { return reference_dir_->str(); }

  void expect_reference_results(const std::string& out) {
    test::expect_same_results(reference() + "/run.h5", out + "/run.h5", 0.0);
  }

  static test::TempDir* reference_dir_;
  static double reference_seconds_;
  test::TempDir dir_{"fedsaf-recovery"};
};
test::TempDir* Recovery::reference_dir_ = nullptr;
double Recovery::reference_seconds_ = 0;

TEST_F(Recovery, AStopSignalCheckpointsAndExitsWith75ThenResumes) {
  const std::string out = dir_ / "run";
  const CommandResult stopped = act_after_first_checkpoint(out, "kill -USR1 \\$pid");
  if (stopped.status == 0) GTEST_SKIP() << "the run finished before the signal (" << reference_seconds_ << " s)";
  ASSERT_EQ(stopped.status, 75) << stopped.output;
  const auto meta = find_checkpoint(checkpoint_dir(out), [](const std::string&) {});
  ASSERT_TRUE(meta.has_value());
  EXPECT_GT(meta->rounds_done, 0);
  EXPECT_LT(meta->rounds_done, 12);
  const CommandResult resumed = run_command(run_args(out));
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  expect_reference_results(out);
}

// Slurm signals every rank and mpirun forwards the same signal a moment later: one stop request.
TEST_F(Recovery, TheSameSignalTwiceWithinTwoSecondsIsOneStopRequest) {
  const std::string out = dir_ / "twice";
  const CommandResult stopped = act_after_first_checkpoint(out, "kill -USR1 \\$pid; sleep 0.1; kill -USR1 \\$pid");
  if (stopped.status == 0) GTEST_SKIP() << "the run finished before the signal (" << reference_seconds_ << " s)";
  ASSERT_EQ(stopped.status, 75) << stopped.output;
  const CommandResult resumed = run_command(run_args(out));
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  expect_reference_results(out);
}

TEST_F(Recovery, SigkillAtRandomMomentsThenResumeGivesIdenticalResults) {
  std::mt19937 rng(20261126);
  std::uniform_real_distribution<double> when(0.05, std::max(0.3, 1.1 * reference_seconds_));
  int killed = 0;
  for (int trial = 0; trial < 8; ++trial) {
    const std::string out = dir_ / ("trial" + std::to_string(trial));
    // Up to three kills in a row, then let it finish.
    for (int kill = 0; kill < 3; ++kill) {
      const CommandResult r =
          run_command("timeout --preserve-status -s KILL " + std::to_string(when(rng)) + " " + run_args(out));
      if (r.status == 0) break;
      ++killed;
    }
    const CommandResult done = run_command(run_args(out));
    ASSERT_EQ(done.status, 0) << "trial " << trial << ": " << done.output;
    expect_reference_results(out);
  }
  std::printf("[recovery] %d kills over 8 trials (reference run %.2f s)\n", killed, reference_seconds_);
  EXPECT_GT(killed, 0);
}

TEST_F(Recovery, CrashesInsideTheCheckpointWriteFallBackToThePreviousCheckpoint) {
  for (const char* point : {"checkpoint-after-copy", "checkpoint-before-marker", "checkpoint-before-rename"}) {
    const std::string out = dir_ / point;
    const CommandResult crashed =
        run_command(std::string("FEDSAF_CRASH_POINT=") + point + "@4 " + run_args(out));
    ASSERT_NE(crashed.status, 0) << point;
    ASSERT_NE(crashed.status, 75) << point;
    std::vector<std::string> warnings;
    const auto meta = find_checkpoint(checkpoint_dir(out), [&](const std::string& w) { warnings.push_back(w); });
    ASSERT_TRUE(meta.has_value()) << point;
    EXPECT_EQ(meta->rounds_done, 2) << point;
    ASSERT_EQ(warnings.size(), 1u) << point;  // the unfinished .tmp file
    EXPECT_NE(warnings[0].find(".ckpt-000004.h5.tmp"), std::string::npos) << warnings[0];
    const CommandResult resumed = run_command(run_args(out));
    ASSERT_EQ(resumed.status, 0) << resumed.output;
    EXPECT_NE(resumed.output.find("resuming from " + checkpoint_dir(out) + "/ckpt-000002.h5"), std::string::npos)
        << resumed.output;
    expect_reference_results(out);
    EXPECT_FALSE(fs::exists(checkpoint_dir(out) + "/.ckpt-000004.h5.tmp")) << "left-over removed";
  }
}

// A disk that fills up during the run, simulated by lowering the running process's file-size
// limit (RLIMIT_FSIZE, prlimit) once its first checkpoint exists: the run file stays under 1 MiB,
// the next checkpoint does not. One clear error, status 1, the previous checkpoint still usable.
// (The limit cannot be set before the start: Open MPI's own shared-memory files would hit it.)
TEST_F(Recovery, AFullDiskWhileCheckpointingFailsCleanlyAndKeepsThePreviousCheckpoint) {
  const std::string out = dir_ / "full";
  const CommandResult full = act_after_first_checkpoint(out, "prlimit --pid \\$pid --fsize=1048576");
  ASSERT_EQ(full.status, 1) << full.output;
  EXPECT_NE(full.output.find("fedsaf: error:"), std::string::npos) << full.output;
  EXPECT_NE(full.output.find(".ckpt-000004.h5.tmp"), std::string::npos) << full.output;
  EXPECT_EQ(full.output.find("fatal"), std::string::npos) << "a clean error, not an abort: " << full.output;
  std::vector<std::string> warnings;
  const auto meta = find_checkpoint(checkpoint_dir(out), [&](const std::string& w) { warnings.push_back(w); });
  ASSERT_TRUE(meta.has_value());
  EXPECT_EQ(meta->rounds_done, 2);
  const CommandResult resumed = run_command(run_args(out));
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  expect_reference_results(out);
}

TEST_F(Recovery, AChangedConfigIsRefusedNamingTheKeys) {
  const std::string out = dir_ / "changed";
  ASSERT_EQ(run_command(run_args(out, "--set run.rounds=2")).status, 0);
  const CommandResult refused = run_command(run_args(out, "--set train.lr=0.01 --set run.seed=7"));
  EXPECT_EQ(refused.status, 1) << refused.output;
  EXPECT_NE(refused.output.find("train.lr: 0.005 → 0.01"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("run.seed: 1 → 7"), std::string::npos) << refused.output;
  EXPECT_EQ(refused.output.find("run.rounds"), std::string::npos) << "rounds may change: " << refused.output;
  const CommandResult required = run_command(run_args(dir_ / "empty", "--resume"));
  EXPECT_EQ(required.status, 1);
  EXPECT_NE(required.output.find("--resume: no checkpoint in " + dir_ / "empty/checkpoints"), std::string::npos)
      << required.output;
}

}  // namespace
}  // namespace fedsaf
