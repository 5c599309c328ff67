#pragma once
// One plug-in mechanism for the named choices of a config key (run.algorithm, data.dataset,
// model.name, partition.method): each entry registers itself from its own file with a static
//   const bool registered = datasets().add({order, "name", "what it is"}, factory);
// which adds its factory here and its name and summary to the key's choices in the config schema
// (hence the parser's check and docs/config.md). No list of names is kept anywhere else.
// Static libraries drop object files nothing references: the libraries holding registrations
// are linked whole (CMakeLists.txt).
#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/config_schema.hpp"
#include "core/errors.hpp"

namespace fedsaf {

struct PluginInfo {
  int order = 0;        // position among the key's choices (schema, docs/config.md, listings)
  std::string name;     // the value; one ending in ':' takes any text after it (torchscript:PATH)
  std::string summary;  // one line for the key's documentation
};

template <class Factory>
class Registry {
 public:
  // key: the config key the names are values of. unknown: the error text for a name no entry has,
  // with the fields {key}, {value} and {choices}; it names the key, the value and the choices.
  explicit Registry(std::string key, std::string unknown = "{key} = '{value}' is not one of: {choices}")
      : key_(std::move(key)), unknown_(std::move(unknown)) {}

  // Before main() only (static registration); returns true. A name registered twice is a bug.
  bool add(PluginInfo info, Factory make) {
    for (const Entry& e : entries_)
      if (e.info.name == info.name) throw Error(fmt::format("{} '{}' is registered twice", key_, info.name));
    register_config_choice({key_, info.order, info.name, info.summary});
    const auto at = std::upper_bound(entries_.begin(), entries_.end(), info.order,
                                     [](int order, const Entry& e) { return order < e.info.order; });
    entries_.insert(at, Entry{std::move(info), std::move(make)});
    return true;
  }

  // The entry whose name is `value` (or a prefix entry `value` starts with: its factory judges the
  // rest, even when empty), else nullptr.
  const Factory* find(const std::string& value) const {
    for (const Entry& e : entries_)
      if (matches(e.info.name, value)) return &e.make;
    return nullptr;
  }
  // As find, but a ConfigError (prefixed with `source: ` when given) for an unknown name.
  const Factory& get(const std::string& value, const std::string& source = "") const {
    if (const Factory* make = find(value)) return *make;
    const std::string text = fmt::format(fmt::runtime(unknown_), fmt::arg("key", key_), fmt::arg("value", value),
                                         fmt::arg("choices", choices_text()));
    throw ConfigError(source.empty() ? text : source + ": " + text);
  }

  const std::string& key() const { return key_; }
  std::vector<std::string> names() const {  // by order
    std::vector<std::string> names;
    for (const Entry& e : entries_) names.push_back(e.info.name);
    return names;
  }
  std::vector<PluginInfo> infos() const {  // by order
    std::vector<PluginInfo> infos;
    for (const Entry& e : entries_) infos.push_back(e.info);
    return infos;
  }
  // "a, b, prefix:..." as the parser's errors write the choices.
  std::string choices_text() const {
    std::string text;
    for (const Entry& e : entries_) {
      text += text.empty() ? "" : ", ";
      text += e.info.name + (is_prefix(e.info.name) ? "..." : "");
    }
    return text;
  }

 private:
  struct Entry {
    PluginInfo info;
    Factory make;
  };
  static bool is_prefix(const std::string& name) { return !name.empty() && name.back() == ':'; }
  static bool matches(const std::string& name, const std::string& value) {
    return is_prefix(name) ? value.size() >= name.size() && value.compare(0, name.size(), name) == 0 : value == name;
  }

  std::string key_;
  std::string unknown_;
  std::vector<Entry> entries_;
};

}  // namespace fedsaf
