#pragma once
// The declaration of every config key: where it lives in Config, its type, range and doc.
// config.cpp parses and validates with it; the reference page is generated from it.
#include <functional>
#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "core/config.hpp"

namespace fedsaf {

using ConfigValueRef = std::variant<int64_t*, uint64_t*, double*, bool*, std::string*,
                                    std::vector<int64_t>*, std::vector<std::string>*>;

struct ConfigKeySpec {
  std::string key;  // dotted path, e.g. "train.lr"
  std::string doc;
  std::function<ConfigValueRef(Config&)> ref;
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_exclusive = false;
  // Allowed strings; an entry ending in ':' allows any value with that prefix.
  std::vector<std::string> choices = {};
  // String keys only: also take a TOML number and keep its text (attention.sigma = 100 or "auto").
  bool accepts_number = false;
};

const std::vector<ConfigKeySpec>& config_schema();

}  // namespace fedsaf
