// The round line observer (src/sim/round_line.cpp): rank 0 prints one line per round, in order,
// with the evaluation's numbers on evaluation rounds and the training loss on every round; the
// other ranks and --quiet print nothing.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <sstream>
#include <string>
#include <vector>

#include "mpi/mpi_communicator.hpp"
#include "tests/engine/engine_test_support.hpp"

namespace fedsaf {
namespace {

std::vector<std::string> round_lines(const std::string& output) {
  std::vector<std::string> lines;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("round ", 0) == 0) lines.push_back(line);
  return lines;
}

RunResult run_capturing(const Config& config, bool quiet, std::string& output) {
  MpiCommunicator world(MPI_COMM_WORLD);
  RunOptions options;
  options.quiet = quiet;
  testing::internal::CaptureStdout();
  RunResult result = run_experiment(config, options, world);
  output = testing::internal::GetCapturedStdout();
  return result;
}

TEST(RoundLine, OneLinePerRoundWithTheRecordedNumbers) {
  const Config config = test::small_config("fedavg", {"run.rounds=4", "run.eval_every=2"});
  std::string output;
  const RunResult result = run_capturing(config, /*quiet=*/false, output);
  const std::vector<std::string> lines = round_lines(output);
  if (MpiCommunicator(MPI_COMM_WORLD).rank() != 0) {
    EXPECT_TRUE(lines.empty()) << output;
    return;
  }
  ASSERT_EQ(lines.size(), 4u) << output;
  ASSERT_EQ(result.evals.size(), 2u);
  for (size_t r = 0; r < 4; ++r) {
    const RoundRecord& record = result.rounds[r];
    EXPECT_EQ(lines[r].rfind(fmt::format("round {}/4  ", r + 1), 0), 0u) << lines[r];
    EXPECT_NE(lines[r].find(fmt::format("train-loss {:.4f}", record.train_loss)), std::string::npos) << lines[r];
    EXPECT_NE(lines[r].find("s/round  ETA "), std::string::npos) << lines[r];
    const bool evaluates = r % 2 == 1;
    EXPECT_EQ(lines[r].find("  acc ") != std::string::npos, evaluates) << lines[r];
    if (!evaluates) continue;
    const EvalRecord& e = result.evals[r / 2];
    EXPECT_NE(lines[r].find(fmt::format("acc {:.4f} (clients {:.4f} ± {:.4f})  loss {:.4f}  auc {:.4f}", e.accuracy,
                                        e.accuracy_mean, e.accuracy_std, e.loss, e.auc)),
              std::string::npos)
        << lines[r];
  }
}

TEST(RoundLine, QuietPrintsNoRoundLine) {
  std::string output;
  run_capturing(test::small_config("fedavg", {"run.rounds=2"}), /*quiet=*/true, output);
  EXPECT_TRUE(round_lines(output).empty()) << output;
}

}  // namespace
}  // namespace fedsaf
