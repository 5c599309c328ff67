#pragma once
// Shared by the config tests (tests/core, tests/schema): the error a config text gives.
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/errors.hpp"

namespace fedsaf::test {

// The ConfigError message of parsing `text` (as exp.toml) with `overrides`; "" when it parses.
inline std::string config_error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parse_config_text(text, "exp.toml", overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace fedsaf::test
