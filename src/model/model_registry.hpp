#pragma once
// The models by name (model.name). Each model registers itself beside its builder:
//   const bool registered = models().add({order, "name", "what it is"}, build);
// which adds the name to model.name's choices, docs/config.md and `fedsaf models`, and the builder
// to make_model (which seeds the global torch RNG around it and checks model.n_head after it).
// A name ending in ':' takes the rest of the value as an argument (torchscript:PATH).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.hpp"
#include "model/model.hpp"

namespace fedsaf {

struct ModelRequest {
  const ModelConfig& config;                  // config.name: the full value (e.g. "torchscript:net.pt")
  const std::vector<int64_t>& sample_shape;  // {D} or {C, H, W}, every extent ≥ 1
  int64_t num_classes;                        // ≥ 1
};
// Builds with the current global torch RNG state; ConfigError for inputs it cannot take.
using ModelBuilder = std::function<std::unique_ptr<FlatModel>(const ModelRequest&)>;

Registry<ModelBuilder>& models();

}  // namespace fedsaf
