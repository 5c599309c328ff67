// The in-round progress line: what it writes on a terminal, that it erases itself before other
// lines, throttles, and writes nothing at all where output is not a terminal (logs, pipes).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "sim/progress_line.hpp"

namespace fedsaf {
namespace {

using std::chrono::milliseconds;

// Everything written to `f` so far.
std::string contents(std::FILE* f) {
  std::fflush(f);
  std::string text(static_cast<size_t>(std::ftell(f)), '\0');
  std::rewind(f);
  text.resize(std::fread(text.data(), 1, text.size(), f));
  return text;
}

TEST(ProgressLine, RewritesOneLineInPlaceAndErasesItBeforeOtherOutput) {
  std::FILE* f = std::tmpfile();
  ProgressLine line = ProgressLine::forced(f, milliseconds(0));
  const auto start = ProgressLine::Clock::now();
  line.update(3, 20, "training", 1, 40, start);
  line.update(3, 20, "training", 2, 40, start);
  line.update(3, 20, "server step", 0, 0, start);
  line.clear();
  line.clear();  // nothing showing: nothing written
  const std::string text = contents(f);
  EXPECT_EQ(text.find('\n'), std::string::npos) << "never a new line";
  EXPECT_NE(text.find("\r\x1b[Kround 3/20  training 1/40 clients  0.0 s"), std::string::npos) << text;
  EXPECT_NE(text.find("\r\x1b[Kround 3/20  training 2/40 clients  "), std::string::npos) << text;
  EXPECT_NE(text.find("\r\x1b[Kround 3/20  server step  "), std::string::npos) << text;
  const std::string tail = "\r\x1b[K";
  ASSERT_GE(text.size(), tail.size());
  EXPECT_EQ(text.substr(text.size() - tail.size()), tail) << "ends erased";
  EXPECT_EQ(text.find(tail + tail), std::string::npos) << "the second clear wrote nothing";
  std::fclose(f);
}

TEST(ProgressLine, ThrottlesWithinAPhaseButShowsEveryNewPhase) {
  std::FILE* f = std::tmpfile();
  ProgressLine line = ProgressLine::forced(f, milliseconds(60000));
  const auto start = ProgressLine::Clock::now();
  for (int64_t done = 1; done <= 100; ++done) line.update(1, 2, "training", done, 100, start);
  line.update(1, 2, "evaluation", 1, 100, start);
  const std::string text = contents(f);
  EXPECT_NE(text.find("training 1/100"), std::string::npos) << text;
  EXPECT_EQ(text.find("training 2/100"), std::string::npos) << "throttled: " << text;
  EXPECT_NE(text.find("evaluation 1/100"), std::string::npos) << text;
  std::fclose(f);
}

TEST(ProgressLine, WritesNothingWhereOutputIsNotATerminal) {
  std::FILE* f = std::tmpfile();  // a file, like a Slurm log or a pipe
  ProgressLine line(true, f, milliseconds(0));
  EXPECT_FALSE(line.active());
  line.update(1, 2, "training", 1, 4, ProgressLine::Clock::now());
  line.clear();
  EXPECT_EQ(contents(f), "");
  std::fclose(f);
}

}  // namespace
}  // namespace fedsaf
