#pragma once
// Internal to src/model: the mechanism that moves a module's parameters into one flat float32
// buffer (llm.c style), and the zoo builders that use it. Code outside src/model uses model.hpp.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/model.hpp"

namespace fedsaf::detail {

using NamedTensor = std::pair<std::string, torch::Tensor>;

// One module that owns parameters, as found by walking a module tree in registration order.
struct ModuleParams {
  std::string path;                 // module path, e.g. "layer1.0.conv1" ("" for the root)
  std::string type;                 // type name, e.g. "torch::nn::BatchNorm2dImpl"
  std::vector<NamedTensor> params;  // its own parameters, full names ("layer1.0.conv1.weight")
};

// One parameterised layer before flattening.
struct LayerParams {
  std::string name;
  std::vector<NamedTensor> params;
};

// The layer rule (see model.hpp): each module with parameters is a layer, except that a module
// whose type name contains "BatchNorm" joins the layer right before it. A tensor listed twice
// (tied weights) is kept only at its first place, so it occupies the flat buffer once.
std::vector<LayerParams> group_layers(const std::vector<ModuleParams>& modules);

// A FlatModel built from a module tree: subclasses provide forward/train; this class owns the
// flat layout, the parameter and buffer lists and the device move.
class FlatModuleBase : public FlatModel {
 public:
  // Moves flat_ and flat_grad_ (values kept), re-points every parameter and grad at them, and
  // moves the buffers; nothing is moved parameter by parameter, so the flat layout survives.
  void to(const torch::Device& device) override;
  std::vector<torch::Tensor> parameters() override { return params_; }
  std::vector<torch::Tensor> buffers() override { return buffers_; }

 protected:
  // Copies every parameter's values, layer after layer, into a new flat_ [P] (float32, on the
  // parameters' device), zeroes flat_grad_ [P], then makes the parameters and their grads views.
  // Throws ConfigError (naming the model and parameter) for a non-float32 parameter.
  void flatten(const std::vector<LayerParams>& layers, std::vector<torch::Tensor> buffers);

  std::vector<torch::Tensor> params_;   // in flat order; share their TensorImpl with the module's
  std::vector<torch::Tensor> buffers_;  // share their TensorImpl with the module's
};

// ---- the zoo (zoo.cpp); each builds with the current global torch RNG state -----------------
// sample_shape: {D} or {C, H, W}; the builders throw ConfigError for inputs they cannot take.
std::unique_ptr<FlatModel> build_logreg(const std::string& name, const std::vector<int64_t>& sample_shape,
                                        int64_t num_classes);
std::unique_ptr<FlatModel> build_mlp(const std::string& name, const std::vector<int64_t>& sample_shape,
                                     const std::vector<int64_t>& hidden, int64_t num_classes);
std::unique_ptr<FlatModel> build_cnn(const std::string& name, const std::vector<int64_t>& sample_shape,
                                     int64_t num_classes);
std::unique_ptr<FlatModel> build_resnet18(const std::string& name, const std::vector<int64_t>& sample_shape,
                                          int64_t num_classes);
// Loads a TorchScript archive (torch.jit.save); ConfigError naming the file when it is missing or
// not a TorchScript archive.
std::unique_ptr<FlatModel> build_torchscript(const std::string& name, const std::string& path);

}  // namespace fedsaf::detail
