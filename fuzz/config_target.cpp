// fedsaf: no-torch
// Fuzz target: the config layer (src/core/config.cpp) as `fedsaf config` and `fedsaf run` use it.
// Input: TOML text, optionally followed by NUL-separated `--set KEY=VALUE` overrides. An accepted
// config must also survive the round trip through its resolved TOML (to_toml), which
// `fedsaf config` prints and every checkpoint stores for the resume to parse again.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/config_schema.hpp"
#include "support/expected.hpp"

namespace fedsaf::fuzz {

namespace {

// The sections of the algorithms live in src/algo (LibTorch), which this target does not link; core
// reaches its enum keys, its keys taking a number or a string and its cross-key checks only
// through registered sections, so one stand-in section has one of each.
enum class StandInMode { kFirst, kSecond, kThird };
struct StandInOptions {
  StandInMode mode = StandInMode::kFirst;
  std::string level = "auto";
  double share = 0.5;
  bool strict = false;
  std::vector<std::string> names;
};

const bool registered = register_config_section({
    1000, "", "",
    {enum_key<StandInMode>("standin.mode", "An enum key.", {"first", "second", "third"},
                           [](Config& c) -> auto& { return c.section<StandInOptions>().mode; }),
     {"standin.level", "A string key that also takes a number.",
      [](Config& c) -> ConfigValueRef { return &c.section<StandInOptions>().level; }, -1e300, 1e300, false, {}, true},
     {"standin.share", "A bounded float.",
      [](Config& c) -> ConfigValueRef { return &c.section<StandInOptions>().share; }, 0, 1, true},
     {"standin.strict", "A boolean.", [](Config& c) -> ConfigValueRef { return &c.section<StandInOptions>().strict; }},
     {"standin.names", "A string array.", [](Config& c) -> ConfigValueRef { return &c.section<StandInOptions>().names; }}},
    [](const Config& c) -> std::string {
      const StandInOptions& o = c.section<StandInOptions>();
      return o.strict && o.share > 0.9 ? "standin.share > 0.9 needs standin.strict = false" : "";
    },
});

// A libFuzzer dictionary of every key and choice, so that mutations can insert them whole.
void write_dictionary(const char* path) {
  std::set<std::string> entries;
  for (const ConfigKeySpec& spec : config_schema()) {
    entries.insert(spec.key);
    entries.insert(spec.key.substr(spec.key.rfind('.') + 1));
    entries.insert("[" + spec.key.substr(0, spec.key.rfind('.')) + "]");
    entries.insert(spec.choices.begin(), spec.choices.end());
  }
  std::ofstream out(path);
  for (const std::string& e : entries) out << '"' << e << "\"\n";
}

}  // namespace

}  // namespace fedsaf::fuzz

using namespace fedsaf;

// FEDSAF_FUZZ_DICT=PATH: write the dictionary there and exit (scripts/fuzz.sh does, after a build).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* path = std::getenv("FEDSAF_FUZZ_DICT")) {
    fuzz::write_dictionary(path);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t end = input.find('\0');
  const std::string text(input.substr(0, end));
  std::vector<std::string> overrides;
  for (size_t at = end; at != std::string_view::npos && overrides.size() < 8;) {
    const size_t next = input.find('\0', at + 1);
    overrides.emplace_back(input.substr(at + 1, next == std::string_view::npos ? next : next - at - 1));
    at = next;
  }

  Config config;
  if (!fuzz::accepts([&] { config = parse_config_text(text, "fuzz.toml", overrides); })) return 0;
  const std::string resolved = to_toml(config);
  Config again;
  try {
    again = parse_config_text(resolved, "resolved.toml");
  } catch (const Error& e) {
    fuzz::violated("the resolved TOML of an accepted config is rejected: " + std::string(e.what()) + "\n" + resolved);
  }
  const std::vector<std::string> diff = config_diff(config, again);
  if (!diff.empty()) fuzz::violated("the resolved TOML reads back differently: " + diff.front());
  return 0;
}
