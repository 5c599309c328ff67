#pragma once
// The seconds of each step of a rank's set-up, in order ("data", "partition", ...), for the run
// log: each step is timed from the end of the one before it.
#include <fmt/format.h>

#include <string>
#include <utility>
#include <vector>

#include "core/stopwatch.hpp"

namespace fedsaf {

class SetupSteps {
 public:
  // The step that ends now, timed from the previous step's end (or from construction).
  void done(std::string step) {
    steps_.emplace_back(std::move(step), seconds_since(step_start_));
    step_start_ = Clock::now();
  }
  // "data 1.20 s, partition 0.31 s, " (empty before the first step).
  std::string summary() const {
    std::string text;
    for (const auto& [step, seconds] : steps_) text += fmt::format("{} {:.2f} s, ", step, seconds);
    return text;
  }

 private:
  Clock::time_point step_start_ = Clock::now();
  std::vector<std::pair<std::string, double>> steps_;
};

}  // namespace fedsaf
