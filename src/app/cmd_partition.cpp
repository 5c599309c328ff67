// fedsaf: no-torch
// PLACEHOLDER: being written (see the task that owns `fedsaf partition`).
#include "app/commands.hpp"
#include "core/errors.hpp"

namespace fedsaf::app {
void add_partition_command(CLI::App& root) {
  root.add_subcommand("partition", "(not built yet)")->callback([] { throw Error("fedsaf partition: not built yet"); });
}
}  // namespace fedsaf::app
