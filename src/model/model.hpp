#pragma once
// The model zoo with flat parameters: every parameter of a model is a view into one contiguous
// float32 buffer, in forward (layer) order, so the shared part (the first n_head parameterised
// layers) and the private part are two contiguous slices and exchanging either is one buffer.
//
// Layers: a layer is a module that owns parameters (module path = layer name), in forward order.
// A batch-norm module joins the layer right before it (conv + its BN = one layer), so resnet18
// has 21 layers and n_head never cuts between a conv and its normalisation. Batch-norm running
// statistics are buffers, not parameters: they are outside the flat buffer (see buffers()).
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace fedsaf {

struct LayerInfo {
  std::string name;                 // e.g. "conv1"
  std::vector<std::string> params;  // e.g. {"conv1.weight", "conv1.bias"}
  int64_t offset = 0;               // first element in the flat buffer
  int64_t numel = 0;                // elements of all its parameters
};

class FlatModel {
 public:
  virtual ~FlatModel() = default;
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;  // [B, ...] → logits [B, classes]
  virtual void train(bool on) = 0;
  virtual void to(const torch::Device& device) = 0;

  torch::Tensor& params() { return flat_; }  // [P] float32, contiguous; parameters are views
  torch::Tensor& grads() { return flat_grad_; }  // [P] float32; the parameters' .grad are views
  const std::vector<LayerInfo>& layers() const { return layers_; }
  int64_t num_params() const { return flat_.numel(); }
  // Elements in the first n_head layers (n_head = 0 or ≥ L: all). Throws ConfigError if n_head > L.
  int64_t shared_numel(int64_t n_head) const;
  torch::Tensor shared(int64_t n_head) { return flat_.narrow(0, 0, shared_numel(n_head)); }  // [S]
  torch::Tensor private_part(int64_t n_head) {  // [P - S]
    const int64_t s = shared_numel(n_head);
    return flat_.narrow(0, s, flat_.numel() - s);
  }
  // Parameters (views into params()) in layer order, for optimisers and requires_grad switches.
  virtual std::vector<torch::Tensor> parameters() = 0;
  // Client-batched training: the logits of G copies of this model at once, each on its own batch
  // x[g] ([G, B, ...]) → [G, B, classes]. params holds, in parameters() order, each parameter of
  // the G copies stacked ([G, shape...]); the module's own parameters are not used. Separate
  // tensors, not one [G, P] block, so that backward writes each gradient once instead of
  // summing zero-padded [G, P] blocks. Only where stacks_clients(); others train one at a time.
  virtual bool stacks_clients() const { return false; }
  virtual torch::Tensor forward_stacked(const std::vector<torch::Tensor>& params, const torch::Tensor& x);
  // Non-parameter state (batch-norm running statistics), in a fixed order; not in params(), but
  // part of the model's state: save and restore them with it. Empty for models without any.
  virtual std::vector<torch::Tensor> buffers() { return {}; }

  // The model name as configured (e.g. "cnn", "torchscript:net.pt"); used in error messages.
  const std::string& name() const { return name_; }
  // Zeros flat_grad_ and re-points any parameter whose .grad is no longer a view of it (e.g. an
  // optimiser's zero_grad(set_to_none)); use this instead of an optimiser's zero_grad.
  void zero_grad();
  // True when every parameter is a contiguous view of params() at its layout offset and its .grad
  // a view of grads() at the same offset (the invariant everything else relies on).
  bool aliased();

 protected:
  // Makes parameter k (of parameters()) a view of flat_ at its offset and its .grad a view of
  // flat_grad_; parameters are laid out back to back in parameters() order.
  void bind_views();

  torch::Tensor flat_;       // [P] float32
  torch::Tensor flat_grad_;  // [P] float32
  std::vector<LayerInfo> layers_;
  std::string name_;
};

// The built-in model names (torchscript:PATH aside), for listings and error messages.
const std::vector<std::string>& builtin_model_names();

// Builds the model the config names for inputs of sample_shape ({D} or {C, H, W}) and
// num_classes outputs. The initial weights come only from `seed` (same on every rank): it calls
// torch::manual_seed(seed) (under a mutex) right before construction, so it resets the global torch
// RNG; build models before training starts. torchscript:PATH takes its weights from the file.
// Throws ConfigError ("model.name: ...", "model.hidden: ...", "model.n_head: ...").
std::unique_ptr<FlatModel> make_model(const ModelConfig& config, const std::vector<int64_t>& sample_shape,
                                      int64_t num_classes, uint64_t seed);

}  // namespace fedsaf
