// fedsaf: no-torch
// PLACEHOLDER: being written (see the task that owns `fedsaf models`).
#include "app/commands.hpp"
#include "core/errors.hpp"

namespace fedsaf::app {
void add_models_command(CLI::App& root) {
  root.add_subcommand("models", "(not built yet)")->callback([] { throw Error("fedsaf models: not built yet"); });
}
}  // namespace fedsaf::app
