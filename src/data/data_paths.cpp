// fedsaf: no-torch
#include "data/data_paths.hpp"

#include <fmt/format.h>

#include <cstdlib>

#include "core/errors.hpp"

namespace fedsaf {

std::string data_root() {
  if (const char* env = std::getenv("FEDSAF_DATA"); env != nullptr && *env != '\0') return env;
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && *home != '\0' ? home : ".") + "/fedsaf-data";
}

const std::string& required_data_path(const Config& config, const std::string& what) {
  if (config.data.path.empty()) {
    throw ConfigError(fmt::format("{}: data.path must be set for data.dataset = \"{}\" ({})", config.source,
                                  config.data.dataset, what));
  }
  return config.data.path;
}

}  // namespace fedsaf
