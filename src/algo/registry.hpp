#pragma once
// The algorithms by name. Each algorithm registers itself in its own file with one line,
//   const bool registered = register_algorithm({order, "name", "what it is", {its keys}, factory});
// which adds the name to run.algorithm's choices (through the generic core/registry.hpp, as data
// sets, models and partitions do), its keys (its own [name] section, typed:
// config.section<Options>()) to the config schema, the resolved TOML and docs/config.md, and its
// factory to make_algorithm. docs/adding-an-algorithm.md walks through one.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "algo/algorithm.hpp"
#include "core/config_schema.hpp"

namespace fedsaf {

struct AlgorithmInfo {
  int order = 0;        // position among the algorithms (run.algorithm's choices, docs/config.md)
  std::string name;     // the run.algorithm value
  std::string summary;  // one line for run.algorithm's documentation
  std::vector<ConfigKeySpec> keys;  // its own section (e.g. fedprox.mu); may be empty
  std::function<std::unique_ptr<Algorithm>(const Config&)> make;
  // Checks across its keys: returns the problem, or "" when the config is fine.
  std::function<std::string(const Config&)> problem = {};
};

// Called once per algorithm before main() (see above); returns true.
bool register_algorithm(AlgorithmInfo info);

// Builds the algorithm config.run.algorithm names; ConfigError naming the key when none has it.
std::unique_ptr<Algorithm> make_algorithm(const Config& config);
std::vector<std::string> algorithm_names();  // registered, in order

}  // namespace fedsaf
