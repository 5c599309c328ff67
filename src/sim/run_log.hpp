#pragma once
// What a run tells people while it goes: rank 0's progress lines, per-rank log files, and the
// few facts every rank shares about itself (host, device) for the run file.
#include <fmt/format.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace fedsaf {

class Communicator;

// "42s", "3m05s", "1h02m"; "?" for a negative or non-finite estimate.
std::string format_eta(double seconds);

// Every rank's text (at most 255 bytes each), rank 0 first. Collective.
std::vector<std::string> allgather_text(const std::string& text, Communicator& comm);

std::string host_name();  // this machine's name, "unknown" when it has none

// One rank's log file DIR/rank-R.log (nothing when DIR is empty); a line per call.
class RankLog {
 public:
  RankLog(const std::string& dir, int rank);
  template <typename... Args>
  void operator()(fmt::format_string<Args...> f, Args&&... args) {
    if (out_) *out_ << fmt::format(f, std::forward<Args>(args)...) << std::endl;
  }

 private:
  std::unique_ptr<std::ofstream> out_;
};

}  // namespace fedsaf
