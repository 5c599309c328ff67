// The registered algorithms (see registry.hpp). The library is linked whole (CMakeLists.txt), so
// every algorithm file's registration runs in every program that links it.
#include "algo/registry.hpp"

#include "core/registry.hpp"

namespace fedsaf {

namespace {

using Factory = std::function<std::unique_ptr<Algorithm>(const Config&)>;

Registry<Factory>& algorithms() {
  static Registry<Factory> all("run.algorithm", "run.algorithm = '{value}' is not available in this build (have: {choices})");
  return all;
}

}  // namespace

bool register_algorithm(AlgorithmInfo info) {
  ConfigSectionSpec section;
  section.order = info.order;
  section.keys = std::move(info.keys);
  section.problem = std::move(info.problem);
  algorithms().add({info.order, info.name, info.summary}, std::move(info.make));
  return register_config_section(std::move(section));
}

std::vector<std::string> algorithm_names() { return algorithms().names(); }

std::unique_ptr<Algorithm> make_algorithm(const Config& config) {
  return algorithms().get(config.run.algorithm, config.source)(config);
}

}  // namespace fedsaf
