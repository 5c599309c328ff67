// fedsaf: no-torch
// PLACEHOLDER: being written (see the task that owns `fedsaf convert`).
#include "app/commands.hpp"
#include "core/errors.hpp"

namespace fedsaf::app {
void add_convert_command(CLI::App& root) {
  root.add_subcommand("convert", "(not built yet)")->callback([] { throw Error("fedsaf convert: not built yet"); });
}
}  // namespace fedsaf::app
