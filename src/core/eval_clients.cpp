#include "core/eval_clients.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>

#include "core/errors.hpp"
#include "core/rng.hpp"

namespace fedsaf {

namespace {
ConfigError bad(const std::string& text, const std::string& why) {
  return ConfigError(fmt::format("run.eval_clients = '{}': {}", text, why));
}
}  // namespace

EvalClientsSpec parse_eval_clients(const std::string& text) {
  if (text == "all") return {};
  const char* begin = text.c_str();
  char* end = nullptr;
  const double v = text.empty() ? NAN : std::strtod(begin, &end);
  if (text.empty() || end != begin + text.size() || !std::isfinite(v))
    throw bad(text, "expected \"all\", a count of clients (e.g. 1000) or a fraction in (0, 1) (e.g. 0.1)");
  if (v <= 0) throw bad(text, "must be positive (\"all\" evaluates every client)");
  if (v < 1) return {EvalClientsSpec::Kind::fraction, v};
  if (v != std::floor(v)) throw bad(text, "a count of clients must be a whole number (a fraction is below 1)");
  return {EvalClientsSpec::Kind::count, v};
}

std::vector<int64_t> draw_eval_clients(const EvalClientsSpec& spec, uint64_t seed, int64_t num_clients) {
  std::vector<int64_t> all(static_cast<size_t>(num_clients));
  std::iota(all.begin(), all.end(), 0);
  int64_t k = num_clients;
  if (spec.kind == EvalClientsSpec::Kind::count) {
    if (spec.value > static_cast<double>(num_clients))
      throw ConfigError(fmt::format("run.eval_clients = {}: more than the run's {} clients (\"all\" evaluates every one)",
                                    static_cast<int64_t>(spec.value), num_clients));
    k = static_cast<int64_t>(spec.value);
  } else if (spec.kind == EvalClientsSpec::Kind::fraction) {
    k = std::max<int64_t>(1, static_cast<int64_t>(std::floor(static_cast<double>(num_clients) * spec.value + 1e-9)));
  }
  if (k >= num_clients) return all;
  RngStream rng(seed, RngPurpose::kEvalClients);
  std::vector<int64_t> drawn = rng.permutation(num_clients);
  drawn.resize(static_cast<size_t>(k));
  std::sort(drawn.begin(), drawn.end());
  return drawn;
}

}  // namespace fedsaf
