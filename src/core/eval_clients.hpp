#pragma once
// Which clients an evaluation scores (run.eval_clients): all of them, a fixed count, or a fraction,
// as cross-device studies evaluate a sample of a large population. The sample is drawn once per
// run from the seed (stream eval_clients), so every evaluation scores the same clients whatever
// the rank count, and a resumed run the same as an unbroken one.
#include <cstdint>
#include <string>
#include <vector>

namespace fedsaf {

struct EvalClientsSpec {
  enum class Kind { all, count, fraction };
  Kind kind = Kind::all;
  double value = 0;  // count: the number of clients (≥ 1); fraction: in (0, 1]
};

// "all", a whole number ≥ 1 (a count) or a number in (0, 1) (a fraction of N). Throws
// ConfigError naming run.eval_clients and the value.
EvalClientsSpec parse_eval_clients(const std::string& text);

// The evaluated clients of N, ascending: all N, or min(N, count) / max(1, ⌊N·fraction⌋) drawn
// without replacement from the stream (seed, eval_clients). Throws ConfigError when a count
// exceeds N.
std::vector<int64_t> draw_eval_clients(const EvalClientsSpec& spec, uint64_t seed, int64_t num_clients);

}  // namespace fedsaf
