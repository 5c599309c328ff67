// The registered algorithms (see registry.hpp). The library is linked whole (CMakeLists.txt), so
// every algorithm file's registration runs in every program that links it.
#include "algo/registry.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join ({fmt} ≥ 11 moved it here)

#include <map>

#include "core/errors.hpp"

namespace fedsaf {

namespace {

using Factory = std::function<std::unique_ptr<Algorithm>(const Config&)>;

std::map<std::string, Factory>& factories() {
  static std::map<std::string, Factory> all;
  return all;
}

}  // namespace

bool register_algorithm(AlgorithmInfo info) {
  if (!factories().emplace(info.name, info.make).second)
    throw Error(fmt::format("algorithm '{}' is registered twice", info.name));
  ConfigSectionSpec section;
  section.order = info.order;
  section.algorithm = info.name;
  section.algorithm_doc = info.summary;
  section.keys = std::move(info.keys);
  section.problem = std::move(info.problem);
  return register_config_section(std::move(section));
}

std::vector<std::string> algorithm_names() {
  std::vector<std::string> names;
  for (const ConfigSectionSpec& section : config_sections())
    if (!section.algorithm.empty()) names.push_back(section.algorithm);
  return names;
}

std::unique_ptr<Algorithm> make_algorithm(const Config& config) {
  const std::string& name = config.run.algorithm;
  const auto it = factories().find(name);
  if (it == factories().end())
    throw ConfigError(fmt::format("{}: run.algorithm = '{}' is not available in this build (have: {})", config.source,
                                  name, fmt::join(algorithm_names(), ", ")));
  return it->second(config);
}

}  // namespace fedsaf
