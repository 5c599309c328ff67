// fedsaf: no-torch
#include "core/config.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join ({fmt} ≥ 11 moved it here)

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <toml++/toml.h>

#include "core/config_schema.hpp"
#include "core/errors.hpp"
#include "core/eval_clients.hpp"
#include "core/utf8.hpp"

namespace fedsaf {

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string nearest_key(const std::string& key) {
  std::string best;
  size_t best_distance = SIZE_MAX;
  for (const auto& spec : config_schema()) {
    const size_t d = edit_distance(key, spec.key);
    if (d < best_distance) best_distance = d, best = spec.key;
  }
  // Also match on the last component alone ("lr" -> "train.lr").
  const std::string leaf = key.substr(key.rfind('.') == std::string::npos ? 0 : key.rfind('.') + 1);
  for (const auto& spec : config_schema()) {
    const std::string spec_leaf = spec.key.substr(spec.key.rfind('.') + 1);
    if (spec_leaf == leaf && best_distance > 0) return spec.key;
  }
  return best_distance <= std::max<size_t>(3, key.size() / 3) ? best : std::string();
}

const ConfigKeySpec* find_spec(const std::string& key) {
  for (const auto& spec : config_schema())
    if (spec.key == key) return &spec;
  return nullptr;
}

// Where a value came from, for error messages: "file.toml:12:5" or "--set train.lr=-1".
std::string where(const std::string& name, const toml::source_region& src) {
  if (src.begin.line == 0) return name;
  return fmt::format("{}:{}:{}", name, src.begin.line, src.begin.column);
}

std::string toml_type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date/time";
  }
}

class KeyError {
 public:
  KeyError(std::string where, std::string key) : where_(std::move(where)), key_(std::move(key)) {}
  [[noreturn]] void fail(const std::string& problem) const {
    throw ConfigError(fmt::format("{}: key '{}': {}", where_, key_, problem));
  }

 private:
  std::string where_, key_;
};

constexpr uintmax_t kMaxConfigBytes = uintmax_t{1} << 20;  // 1 MiB: configs are a few KB

void check_range(const ConfigKeySpec& spec, double v, const KeyError& err) {
  if (std::isinf(v)) err.fail(fmt::format("value {} is not a finite number", v));
  const bool low = spec.min_exclusive ? !(v > spec.min) : !(v >= spec.min);
  if (low || !(v <= spec.max) || std::isnan(v)) {
    std::string lo = std::isinf(spec.min) ? "" : fmt::format("{} {}", spec.min_exclusive ? ">" : ">=", spec.min);
    std::string hi = std::isinf(spec.max) ? "" : fmt::format("<= {}", spec.max);
    err.fail(fmt::format("value {} is out of range (must be {}{}{})", v, lo,
                         (!lo.empty() && !hi.empty()) ? " and " : "", hi));
  }
}

void check_choice(const ConfigKeySpec& spec, const std::string& v, const KeyError& err) {
  if (spec.choices.empty()) return;
  for (const auto& c : spec.choices) {
    if (c == v) return;
    if (!c.empty() && c.back() == ':' && v.rfind(c, 0) == 0 && v.size() > c.size()) return;
  }
  std::string list;
  for (const auto& c : spec.choices) list += (list.empty() ? "" : ", ") + (c.back() == ':' ? c + "..." : c);
  err.fail(fmt::format("'{}' is not one of: {}", v, list));
}

int64_t as_int(const toml::node& node, const KeyError& err) {
  if (auto v = node.value_exact<int64_t>()) return *v;
  err.fail(fmt::format("expected an integer, got {}", toml_type_name(node)));
}

double as_float(const toml::node& node, const KeyError& err) {
  if (node.is_integer()) return static_cast<double>(*node.value_exact<int64_t>());
  if (auto v = node.value_exact<double>()) return *v;
  err.fail(fmt::format("expected a number, got {}", toml_type_name(node)));
}

std::string as_string(const toml::node& node, const KeyError& err) {
  if (auto v = node.value_exact<std::string>()) return *v;
  err.fail(fmt::format("expected a string, got {}", toml_type_name(node)));
}

const toml::array& as_array(const toml::node& node, const KeyError& err) {
  if (auto a = node.as_array()) return *a;
  err.fail(fmt::format("expected an array, got {}", toml_type_name(node)));
}

// Stores one TOML value into the config field the spec points at, with type and range checks.
void assign(Config& config, const ConfigKeySpec& spec, const toml::node& node, const KeyError& err) {
  std::visit(
      [&](auto field) {
        using T = std::remove_pointer_t<decltype(field)>;
        if constexpr (std::is_same_v<T, ConfigEnumRef>) {
          const std::string v = as_string(node, err);
          check_choice(spec, v, err);
          field.set(static_cast<int>(std::find(spec.choices.begin(), spec.choices.end(), v) - spec.choices.begin()));
        } else if constexpr (std::is_same_v<T, int64_t>) {
          const int64_t v = as_int(node, err);
          check_range(spec, static_cast<double>(v), err);
          *field = v;
        } else if constexpr (std::is_same_v<T, uint64_t>) {
          const int64_t v = as_int(node, err);
          check_range(spec, static_cast<double>(v), err);
          *field = static_cast<uint64_t>(v);
        } else if constexpr (std::is_same_v<T, double>) {
          const double v = as_float(node, err);
          check_range(spec, v, err);
          *field = v;
        } else if constexpr (std::is_same_v<T, bool>) {
          if (auto v = node.value_exact<bool>()) *field = *v;
          else err.fail(fmt::format("expected true or false, got {}", toml_type_name(node)));
        } else if constexpr (std::is_same_v<T, std::string>) {
          std::string v;
          if (spec.accepts_number && node.is_integer()) v = std::to_string(*node.value_exact<int64_t>());
          else if (spec.accepts_number && node.is_floating_point()) v = fmt::format("{}", *node.value_exact<double>());
          else v = as_string(node, err);
          check_choice(spec, v, err);
          *field = std::move(v);
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
          std::vector<int64_t> out;
          for (const auto& item : as_array(node, err)) {
            const int64_t v = as_int(item, err);
            check_range(spec, static_cast<double>(v), err);
            out.push_back(v);
          }
          *field = std::move(out);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          std::vector<std::string> out;
          for (const auto& item : as_array(node, err)) out.push_back(as_string(item, err));
          *field = std::move(out);
        }
      },
      spec.ref(config));
}

void apply_table(Config& config, const toml::table& table, const std::string& prefix,
                 const std::string& name) {
  for (const auto& [k, node] : table) {
    const std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    const ConfigKeySpec* spec = find_spec(key);
    if (!spec && node.is_table()) {
      apply_table(config, *node.as_table(), key, name);
      continue;
    }
    const std::string loc = where(name, node.source());
    if (!spec) {
      const std::string hint = nearest_key(key);
      throw ConfigError(fmt::format("{}: unknown key '{}'{}", loc, key,
                                    hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint)));
    }
    assign(config, *spec, node, KeyError(loc, key));
  }
}

void apply_override(Config& config, const std::string& assignment) {
  const auto eq = assignment.find('=');
  const std::string loc = "--set " + assignment;
  if (assignment.find_first_of("\r\n") != std::string::npos)
    throw ConfigError(fmt::format("{}: a line break inside one --set; give each KEY=VALUE its own --set", loc));
  if (const auto bad = first_invalid_utf8_byte(assignment))
    throw ConfigError(fmt::format("--set: byte {} of '{}' is not UTF-8; config values must be UTF-8 text",
                                  *bad + 1, escape_invalid_utf8(assignment)));
  if (eq == std::string::npos || eq == 0)
    throw ConfigError(fmt::format("{}: expected KEY=VALUE, e.g. --set train.lr=0.01", loc));
  const std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  const ConfigKeySpec* spec = find_spec(key);
  if (!spec) {
    const std::string hint = nearest_key(key);
    throw ConfigError(fmt::format("{}: unknown key '{}'{}", loc, key,
                                  hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint)));
  }
  // The value is read as TOML (numbers, booleans, arrays, quoted strings); anything that is not
  // valid TOML is taken as a bare string, so `--set run.algorithm=fedprox` works unquoted.
  toml::table parsed;
  try {
    parsed = toml::parse("v = " + text);
  } catch (const toml::parse_error&) {
    parsed = toml::table{{"v", text}};
  }
  assign(config, *spec, *parsed.get("v"), KeyError(loc, key));
}

// Checks that involve several keys at once.
void validate(const Config& c) {
  const auto fail = [&](const std::string& msg) { throw ConfigError(c.source + ": " + msg); };
  if (c.data.synthetic.max_samples < c.data.synthetic.min_samples)
    fail(fmt::format("data.synthetic.max_samples ({}) is below data.synthetic.min_samples ({})",
                     c.data.synthetic.max_samples, c.data.synthetic.min_samples));
  if (c.run.clients == 0 && c.partition.method != "natural" && c.partition.method != "auto")
    fail("run.clients = 0 (take the count from the data) needs partition.method = natural");
  for (const ConfigSectionSpec& section : config_sections()) {
    if (!section.problem) continue;
    const std::string problem = section.problem(c);
    if (!problem.empty()) fail(problem);
  }
  if (c.run.clients == 0 && c.data.dataset == "synthetic")
    fail("run.clients must be >= 1 for the synthetic data set");
  EvalClientsSpec eval;
  try {
    eval = parse_eval_clients(c.run.eval_clients);
  } catch (const ConfigError& e) {
    fail(e.what());
  }
  if (eval.kind == EvalClientsSpec::Kind::count && c.run.clients > 0 && eval.value > static_cast<double>(c.run.clients))
    fail(fmt::format("run.eval_clients = {}: more than run.clients = {} (\"all\" evaluates every client)",
                     c.run.eval_clients, c.run.clients));
}

Config finish(Config config, const std::vector<std::string>& overrides) {
  for (const auto& o : overrides) apply_override(config, o);
  validate(config);
  return config;
}

std::string format_double(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // keep it a TOML float
  return s;
}

std::string quote(const std::string& s) {
  std::ostringstream out;
  out << toml::value<std::string>(s);
  return out.str();
}

std::string format_value(Config& config, const ConfigKeySpec& spec) {
  return std::visit(
      [&](auto field) -> std::string {
        using T = std::remove_pointer_t<decltype(field)>;
        if constexpr (std::is_same_v<T, ConfigEnumRef>) return quote(spec.choices.at(static_cast<size_t>(field.get())));
        else if constexpr (std::is_same_v<T, double>) return format_double(*field);
        else if constexpr (std::is_same_v<T, bool>) return *field ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::string>) return quote(*field);
        else if constexpr (std::is_same_v<T, std::vector<int64_t>>) return fmt::format("[{}]", fmt::join(*field, ", "));
        else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          std::vector<std::string> q;
          for (const auto& s : *field) q.push_back(quote(s));
          return fmt::format("[{}]", fmt::join(q, ", "));
        } else return fmt::format("{}", *field);
      },
      spec.ref(config));
}

std::string type_name(Config& config, const ConfigKeySpec& spec) {
  return std::visit(
      [](auto field) -> std::string {
        using T = std::remove_pointer_t<decltype(field)>;
        if constexpr (std::is_same_v<T, ConfigEnumRef>) return "string";
        else if constexpr (std::is_same_v<T, double>) return "float";
        else if constexpr (std::is_same_v<T, bool>) return "bool";
        else if constexpr (std::is_same_v<T, std::string>) return "string";
        else if constexpr (std::is_same_v<T, std::vector<int64_t>>) return "integer array";
        else if constexpr (std::is_same_v<T, std::vector<std::string>>) return "string array";
        else return "integer";
      },
      spec.ref(config));
}

std::string section_of(const std::string& key) { return key.substr(0, key.rfind('.')); }

}  // namespace

Config parse_config_text(const std::string& text, const std::string& name,
                         const std::vector<std::string>& overrides) {
  Config config;
  config.source = name;
  toml::table table;
  try {
    table = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    throw ConfigError(fmt::format("{}: invalid TOML: {}", where(name, e.source()), e.description()));
  }
  apply_table(config, table, "", name);
  return finish(std::move(config), overrides);
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  // Only a regular file of sane size: a FIFO or /dev/zero would block or read without end, and a
  // folder would read as an empty file (the default experiment).
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status))
    throw ConfigError(fmt::format("{}: cannot open config file: {}", path, ec ? ec.message() : "no such file"));
  if (std::filesystem::is_directory(status))
    throw ConfigError(fmt::format("{}: is a folder, not a config file", path));
  if (!std::filesystem::is_regular_file(status))
    throw ConfigError(fmt::format("{}: not a regular file (a FIFO, device or socket); configs are read from files", path));
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxConfigBytes)
    throw ConfigError(fmt::format("{}: {} bytes; a config file is at most {} bytes", path, size, kMaxConfigBytes));
  std::ifstream in(path);
  if (!in) throw ConfigError(fmt::format("{}: cannot open config file", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_config_text(buffer.str(), path, overrides);
}

Config default_config(const std::vector<std::string>& overrides) {
  Config config;
  config.source = "<built-in default>";
  return finish(std::move(config), overrides);
}

std::vector<std::string> config_diff(const Config& before_in, const Config& after_in) {
  Config before = before_in, after = after_in;  // specs hand out non-const references
  std::vector<std::string> diff;
  for (const auto& spec : config_schema()) {
    const std::string a = format_value(before, spec), b = format_value(after, spec);
    if (a != b) diff.push_back(fmt::format("{}: {} → {}", spec.key, a, b));
  }
  return diff;
}

std::string to_toml(const Config& config_in) {
  Config config = config_in;  // specs hand out non-const references
  std::string out, section;
  for (const auto& spec : config_schema()) {
    if (section_of(spec.key) != section) {
      section = section_of(spec.key);
      out += fmt::format("{}[{}]\n", out.empty() ? "" : "\n", section);
    }
    out += fmt::format("{} = {}\n", spec.key.substr(section.size() + 1), format_value(config, spec));
  }
  return out;
}

std::string config_reference_markdown() {
  Config defaults;
  std::string out =
      "# Configuration reference\n\n"
      "<!-- Generated by `fedsaf config --reference`; tests/core checks that it matches. -->\n\n"
      "An experiment is one TOML file; `--set KEY=VALUE` overrides any key from the command line\n"
      "(values are read as TOML; a bare word is a string). Unknown keys, wrong types and values out\n"
      "of range are errors that name the file, line and key. `fedsaf config CONFIG` prints the\n"
      "resolved configuration.\n";
  std::string section;
  for (const auto& spec : config_schema()) {
    if (section_of(spec.key) != section) {
      section = section_of(spec.key);
      out += fmt::format("\n## [{}]\n\n| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n", section);
    }
    std::string allowed;
    if (!spec.choices.empty()) {
      for (const auto& c : spec.choices) allowed += (allowed.empty() ? "" : ", ") + (c.back() == ':' ? "`" + c + "...`" : "`" + c + "`");
    } else if (!std::isinf(spec.min) || !std::isinf(spec.max)) {
      if (!std::isinf(spec.min)) allowed += fmt::format("{} {}", spec.min_exclusive ? ">" : "≥", spec.min);
      if (!std::isinf(spec.max)) allowed += fmt::format("{}≤ {}", allowed.empty() ? "" : ", ", spec.max);
    }
    out += fmt::format("| `{}` | {} | `{}` | {} | {} |\n", spec.key, type_name(defaults, spec),
                       format_value(defaults, spec), allowed, spec.doc);
  }
  return out;
}

std::vector<std::string> config_keys() {
  std::vector<std::string> keys;
  for (const auto& spec : config_schema()) keys.push_back(spec.key);
  return keys;
}

}  // namespace fedsaf
