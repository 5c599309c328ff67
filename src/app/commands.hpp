#pragma once
// One function per sub-command (one file each: cmd_<name>.cpp). Each registers its sub-command on
// the root app; the callback does the work and throws fedsaf::Error on bad input.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace fedsaf::app {

void add_config_command(CLI::App& root);     // cmd_config.cpp
void add_partition_command(CLI::App& root);  // cmd_partition.cpp
void add_models_command(CLI::App& root);     // cmd_models.cpp
void add_convert_command(CLI::App& root);    // cmd_convert.cpp
void add_inspect_command(CLI::App& root);    // cmd_inspect.cpp
// Commands whose exit status is more than success/failure set exit_code.
void add_run_command(CLI::App& root, int& exit_code);   // cmd_run.cpp
void add_plan_command(CLI::App& root, int& exit_code);  // cmd_plan.cpp

// The shared "CONFIG [--set KEY=VALUE]..." arguments of commands that read an experiment.
struct ConfigArgs {
  std::string path;                    // empty = the built-in default
  std::vector<std::string> overrides;  // KEY=VALUE
};
void add_config_args(CLI::App& cmd, ConfigArgs& args);

}  // namespace fedsaf::app
