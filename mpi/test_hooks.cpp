// fedsaf: no-torch
#include "mpi/test_hooks.hpp"

#include <fmt/format.h>
#include <mpi.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>

#include "core/errors.hpp"
#include "mpi/environment.hpp"  // mpi_running

namespace fedsaf {
namespace {

int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

// The whole of text as a base-10 integer in [low, high]; nullopt-like false otherwise.
bool parse_int(const std::string& text, int64_t low, int64_t high, int64_t& out) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 18) return false;
  out = std::strtoll(text.c_str(), nullptr, 10);
  return out >= low && out <= high;
}

int parse_rank(const char* variable, const std::string& value, const std::string& text, int world_size) {
  int64_t rank = 0;
  if (!parse_int(text, 0, world_size - 1, rank))
    throw Error(fmt::format("{}={}: rank '{}' is not a rank of this run (0 to {} with {} rank(s))", variable, value,
                            text, world_size - 1, world_size));
  return static_cast<int>(rank);
}

std::atomic<int64_t> g_fail_point_round{0};  // atomic: in-process ranks are threads

}  // namespace

FailAt parse_fail_at(const std::string& value, int world_size) {
  const size_t at = value.rfind('@'), colon = value.rfind(':');
  if (at == std::string::npos || colon == std::string::npos || colon < at)
    throw Error(fmt::format("FEDSAF_FAIL_AT={}: expected PHASE@ROUND:RANK, e.g. training@2:1", value));
  FailAt hook;
  hook.phase = value.substr(0, at);
  bool known = false;
  std::string phases;
  for (const char* phase : kFailPhases) {
    known = known || hook.phase == phase;
    phases += (phases.empty() ? "'" : ", '") + std::string(phase) + "'";
  }
  if (!known) throw Error(fmt::format("FEDSAF_FAIL_AT={}: unknown phase '{}' (one of {})", value, hook.phase, phases));
  const std::string round = value.substr(at + 1, colon - at - 1);
  if (!parse_int(round, 1, INT64_C(1) << 40, hook.round))
    throw Error(fmt::format("FEDSAF_FAIL_AT={}: round '{}' is not a whole number ≥ 1", value, round));
  hook.rank = parse_rank("FEDSAF_FAIL_AT", value, value.substr(colon + 1), world_size);
  return hook;
}

SlowRank parse_slow_rank(const std::string& value, int world_size) {
  const size_t colon = value.find(':');
  if (colon == std::string::npos)
    throw Error(fmt::format("FEDSAF_SLOW_RANK={}: expected RANK:FACTOR, e.g. 1:2.5", value));
  SlowRank hook;
  hook.rank = parse_rank("FEDSAF_SLOW_RANK", value, value.substr(0, colon), world_size);
  const std::string factor = value.substr(colon + 1);
  char* end = nullptr;
  errno = 0;
  hook.factor = factor.empty() ? -1 : std::strtod(factor.c_str(), &end);
  if (factor.empty() || *end != '\0' || errno != 0 || !std::isfinite(hook.factor) || hook.factor < 0 ||
      hook.factor > kMaxSlowFactor)
    throw Error(fmt::format("FEDSAF_SLOW_RANK={}: factor '{}' is not a number from 0 to {}", value, factor,
                            kMaxSlowFactor));
  return hook;
}

void check_test_hooks(int world_size) {
  if (const char* fail_at = std::getenv("FEDSAF_FAIL_AT")) parse_fail_at(fail_at, world_size);
  if (const char* slow = std::getenv("FEDSAF_SLOW_RANK")) parse_slow_rank(slow, world_size);
}

void set_fail_point_round(int64_t round) { g_fail_point_round = round; }

void fail_point(const char* phase) {
  const char* wanted = std::getenv("FEDSAF_FAIL_AT");
  if (wanted == nullptr || !mpi_running()) return;
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const FailAt hook = parse_fail_at(wanted, size);
  if (hook.phase == phase && hook.round == g_fail_point_round.load() && hook.rank == world_rank())
    throw Error(fmt::format("injected failure at {} in round {} (FEDSAF_FAIL_AT={})", phase, hook.round, wanted));
}

void slow_point(double seconds) {
  const char* wanted = std::getenv("FEDSAF_SLOW_RANK");
  if (wanted == nullptr || !mpi_running()) return;
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const SlowRank hook = parse_slow_rank(wanted, size);
  if (world_rank() == hook.rank) std::this_thread::sleep_for(std::chrono::duration<double>(hook.factor * seconds));
}

}  // namespace fedsaf
