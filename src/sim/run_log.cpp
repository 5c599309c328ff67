#include "sim/run_log.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/errors.hpp"
#include "mpi/communicator.hpp"

namespace fedsaf {

std::string format_eta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::vector<std::string> allgather_text(const std::string& text, Communicator& comm) {
  constexpr int64_t kWidth = 256;
  torch::Tensor mine = torch::zeros({kWidth}, torch::kUInt8);  // [256] NUL-padded
  std::memcpy(mine.data_ptr<uint8_t>(), text.data(), std::min<size_t>(text.size(), kWidth - 1));
  const torch::Tensor all = comm.allgather(mine).contiguous();  // [R, 256]
  std::vector<std::string> texts;
  for (int64_t r = 0; r < all.size(0); ++r) texts.emplace_back(reinterpret_cast<const char*>(all[r].data_ptr<uint8_t>()));
  return texts;
}

std::string host_name() {
  char name[256] = {};
  return gethostname(name, sizeof(name) - 1) == 0 ? std::string(name) : std::string("unknown");
}

RankLog::RankLog(const std::string& dir, int rank) {
  if (dir.empty()) return;
  const std::string path = fmt::format("{}/rank-{}.log", dir, rank);
  out_ = std::make_unique<std::ofstream>(path);
  if (!*out_) throw IoError(fmt::format("{}: cannot open the per-rank log for writing", path));
}

}  // namespace fedsaf
