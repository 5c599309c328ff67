// The algorithms by name. Adding one is one file plus one line here.
#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join ({fmt} ≥ 11 moved it here)

#include "algo/algorithm.hpp"
#include "algo/fedavg.hpp"
#include "core/errors.hpp"

namespace fedsaf {

std::unique_ptr<Algorithm> make_local();
std::unique_ptr<Algorithm> make_fedper();
std::unique_ptr<Algorithm> make_fedamp();
std::unique_ptr<Algorithm> make_fedsaf();

std::unique_ptr<Algorithm> make_algorithm(const Config& config) {
  const std::string& name = config.run.algorithm;
  if (name == "fedavg") return std::make_unique<FedAvg>(0.0);
  if (name == "fedprox") return std::make_unique<FedAvg>(config.fedprox.mu);
  if (name == "local") return make_local();
  if (name == "fedper") return make_fedper();
  if (name == "fedamp") return make_fedamp();
  if (name == "fedsaf") return make_fedsaf();
  throw ConfigError(fmt::format("{}: run.algorithm = '{}' is not available in this build (have: {})",
                                config.source, name, fmt::join(algorithm_names(), ", ")));
}

std::vector<std::string> algorithm_names() { return {"local", "fedavg", "fedprox", "fedper", "fedamp", "fedsaf"}; }

}  // namespace fedsaf
