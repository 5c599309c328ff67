#include "algo/state.hpp"

#include <fmt/format.h>

#include "core/errors.hpp"

namespace fedsaf {

void restore_into(torch::Tensor& target, const torch::Tensor& saved, const std::string& name) {
  if (saved.numel() != target.numel())
    throw IoError(fmt::format("checkpoint state '{}': {} elements saved, {} expected (another model or split?)", name,
                              saved.numel(), target.numel()));
  target.copy_(saved.reshape(target.sizes()));
}

}  // namespace fedsaf
