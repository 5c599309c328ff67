// fedsaf: no-torch
// `fedsaf config [CONFIG] [--set K=V]...`: print the resolved config; `--reference` prints the
// Markdown reference of every key (docs/config.md).
#include <iostream>

#include "app/commands.hpp"
#include "app/config_args.hpp"

namespace fedsaf::app {

void add_config_command(CLI::App& root) {
  auto* cmd = root.add_subcommand("config", "Print the resolved configuration (TOML) or the key reference");
  auto args = std::make_shared<ConfigArgs>();
  auto reference = std::make_shared<bool>(false);
  add_config_args(*cmd, *args);
  cmd->add_flag("--reference", *reference, "Print the Markdown reference of every key (docs/config.md)");
  cmd->callback([args, reference] {
    if (*reference) {
      std::cout << config_reference_markdown();
      return;
    }
    std::cout << to_toml(resolve_config(*args));
  });
}

}  // namespace fedsaf::app
