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

// An enum-valued key: read and written as one of the spec's `choices`, stored as the enum whose
// value k is choices[k].
struct ConfigEnumRef {
  std::function<int()> get;
  std::function<void(int)> set;
};

using ConfigValueRef = std::variant<int64_t*, uint64_t*, double*, bool*, std::string*,
                                    std::vector<int64_t>*, std::vector<std::string>*, ConfigEnumRef>;

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

// An enum key of a section: E's value k is names[k]; get(config) returns the field.
template <class E, class Get>
ConfigKeySpec enum_key(std::string key, std::string doc, std::vector<std::string> names, Get get) {
  ConfigKeySpec spec{std::move(key), std::move(doc), [get](Config& c) -> ConfigValueRef {
                       E* field = &get(c);
                       return ConfigEnumRef{[field] { return static_cast<int>(*field); },
                                            [field](int v) { *field = static_cast<E>(v); }};
                     }};
  spec.choices = std::move(names);
  return spec;
}

// Keys declared above core: one section per algorithm (its [name] keys; possibly none) or a
// stage shared by several (attention). Registered before main() by a static registration in the
// declaring file; the schema, resolved TOML and docs/config.md list sections by `order`.
struct ConfigSectionSpec {
  int order = 0;
  // Unused: a key's choices come from register_config_choice (core/registry.hpp). Kept so that
  // positional initialisers ({order, "", "", {keys}}) still compile.
  std::string algorithm;
  std::string algorithm_doc;
  std::vector<ConfigKeySpec> keys;
  // Checks that involve several keys: returns the problem, or "" when the config is fine.
  std::function<std::string(const Config&)> problem;
};
// Returns true (for `static const bool registered = register_config_section(...)`).
bool register_config_section(ConfigSectionSpec section);
const std::vector<ConfigSectionSpec>& config_sections();  // registered, by order

// One registered value of a general key whose choices are plug-ins (run.algorithm, data.dataset,
// model.name, partition.method): added by Registry::add (core/registry.hpp). The schema appends
// the key's registered choices, by order, to its fixed ones (e.g. partition.method's `auto`) and
// its doc: "<doc> `name` summary; ...".
struct ConfigChoice {
  std::string key;
  int order = 0;
  std::string name;  // ending in ':' = any value with that prefix
  std::string summary;
};
bool register_config_choice(ConfigChoice choice);  // returns true

// Every key: the general ones, then the registered sections' by order.
const std::vector<ConfigKeySpec>& config_schema();

}  // namespace fedsaf
