#include "model/model.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <mutex>
#include <stdexcept>

#include "core/errors.hpp"
#include "model/model_registry.hpp"

namespace fedsaf {

torch::Tensor FlatModel::forward_stacked(const std::vector<torch::Tensor>& /*params*/, const torch::Tensor& /*x*/) {
  throw std::logic_error("model " + name_ + " cannot train clients together (stacks_clients() is false)");
}

int64_t FlatModel::shared_numel(int64_t n_head) const {
  const auto L = static_cast<int64_t>(layers_.size());
  if (n_head < 0 || n_head > L) {
    throw ConfigError(fmt::format("model.n_head: {} is out of range for model {}, which has L = {} parameterised "
                                  "layers; use 1..{} (0 = all layers shared)",
                                  n_head, name_, L, L));
  }
  if (n_head == 0 || n_head == L) return flat_.numel();
  const LayerInfo& last = layers_[static_cast<size_t>(n_head - 1)];
  return last.offset + last.numel;
}

const std::vector<std::string>& builtin_model_names() {
  // After main() starts every model has registered; those taking an argument are left out.
  static const std::vector<std::string> names = [] {
    std::vector<std::string> all;
    for (const std::string& name : models().names())
      if (name.back() != ':') all.push_back(name);
    return all;
  }();
  return names;
}

std::unique_ptr<FlatModel> make_model(const ModelConfig& config, const std::vector<int64_t>& sample_shape,
                                      int64_t num_classes, uint64_t seed) {
  if (num_classes < 1) throw ConfigError(fmt::format("model.name: {} needs ≥ 1 class, got {}", config.name, num_classes));
  if (sample_shape.empty()) throw ConfigError(fmt::format("model.name: {} got an empty sample shape", config.name));
  for (int64_t d : sample_shape) {
    if (d < 1) {
      throw ConfigError(fmt::format("model.name: {} got sample shape [{}]; every extent must be ≥ 1", config.name,
                                    fmt::join(sample_shape, ", ")));
    }
  }
  // torch::manual_seed sets global RNG state and the default initialisers draw from it, so seeding
  // and constructing must not interleave with another thread's. Under the lock θ⁰ depends only on
  // (name, sample_shape, num_classes, seed): every rank builds the identical initial model.
  static std::mutex init_mutex;
  std::unique_ptr<FlatModel> model;
  {
    const std::lock_guard<std::mutex> lock(init_mutex);
    torch::manual_seed(seed);
    model = models().get(config.name)({config, sample_shape, num_classes});
  }
  model->shared_numel(config.n_head);  // reject a bad split depth before anything runs
  return model;
}

}  // namespace fedsaf
