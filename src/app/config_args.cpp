// fedsaf: no-torch
#include "app/config_args.hpp"

#include "app/commands.hpp"

namespace fedsaf::app {

void add_config_args(CLI::App& cmd, ConfigArgs& args) {
  cmd.add_option("config", args.path, "Experiment TOML file (omit for the built-in default)");
  cmd.add_option("--set", args.overrides, "Override a config key, e.g. --set train.lr=0.01 (repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
}

Config resolve_config(const ConfigArgs& args) {
  return args.path.empty() ? default_config(args.overrides) : load_config(args.path, args.overrides);
}

}  // namespace fedsaf::app
