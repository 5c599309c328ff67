#pragma once
#include "app/commands.hpp"
#include "core/config.hpp"

namespace fedsaf::app {
// The config a command's arguments name: the file (or the built-in default) plus overrides.
Config resolve_config(const ConfigArgs& args);
}  // namespace fedsaf::app
