// The model zoo as torch::nn modules (plus TorchScript import), each wrapped so that its
// parameters live in one flat buffer (flat_params.hpp). Submodules are registered in forward
// order, so registration order = layer order = flat-buffer order.
#include <torch/script.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <filesystem>
#include <numeric>

#include "core/errors.hpp"
#include "model/flat_params.hpp"
#include "model/model_registry.hpp"

namespace fedsaf::detail {

namespace {

namespace nn = torch::nn;

std::string shape_text(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

int64_t flat_features(const std::vector<int64_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
}

void require_image(const std::string& name, const std::vector<int64_t>& shape) {
  if (shape.size() != 3) {
    throw ConfigError(fmt::format("model.name: {} needs image samples of shape [C, H, W]; the data set gives {}", name,
                                  shape_text(shape)));
  }
}

// Every zoo network: [B, ...] → logits [B, classes]; those that can, also G copies at once from
// stacked flat parameters (FlatModel::forward_stacked).
struct ZooNet : nn::Module {
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  virtual bool stacks_clients() const { return false; }
  virtual torch::Tensor forward_stacked(const std::vector<torch::Tensor>& /*params*/, const torch::Tensor& /*x*/) {
    return {};
  }
};

// The stacked parameters ([G, shape...] each) one after another, in registration order.
class StackedParams {
 public:
  explicit StackedParams(const std::vector<torch::Tensor>& params) : params_(params) {}
  const torch::Tensor& next() { return params_.at(next_++); }

 private:
  const std::vector<torch::Tensor>& params_;
  size_t next_ = 0;
};

// x [G, B, in] through G Linear layers (weight [G, out, in], bias [G, out]) → [G, B, out].
torch::Tensor stacked_linear(StackedParams& params, const torch::Tensor& x) {
  const torch::Tensor& weight = params.next();  // [G, out, in]
  const torch::Tensor& bias = params.next();    // [G, out]
  return torch::baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2));
}

// logreg (no hidden layer) and mlp: flatten, Linear+ReLU per hidden width, Linear → classes.
struct MlpNet : ZooNet {
  MlpNet(int64_t in, const std::vector<int64_t>& hidden, int64_t classes) {
    int64_t width = in;
    for (size_t i = 0; i < hidden.size(); ++i) {
      fcs.push_back(register_module(fmt::format("fc{}", i + 1), nn::Linear(width, hidden[i])));
      width = hidden[i];
    }
    fcs.push_back(register_module(hidden.empty() ? "fc" : fmt::format("fc{}", hidden.size() + 1),
                                  nn::Linear(width, classes)));
  }
  torch::Tensor forward(torch::Tensor x) override {
    x = x.flatten(1);  // [B, D]
    for (size_t i = 0; i + 1 < fcs.size(); ++i) x = torch::relu(fcs[i]->forward(x));  // [B, hidden_i]
    return fcs.back()->forward(x);  // [B, classes]
  }
  bool stacks_clients() const override { return true; }
  torch::Tensor forward_stacked(const std::vector<torch::Tensor>& params, const torch::Tensor& x_in) override {
    StackedParams next(params);
    torch::Tensor x = x_in.flatten(2);  // [G, B, D]
    for (size_t i = 0; i < fcs.size(); ++i) {
      x = stacked_linear(next, x);  // [G, B, width_i]
      if (i + 1 < fcs.size()) x = torch::relu(x);
    }
    return x;  // [G, B, classes]
  }
  std::vector<nn::Linear> fcs;
};

// ReLU then 2×2 max-pool. Without gradients on the CPU it is computed as a reshape + amax pool
// then the ReLU, which bench/bench_forward measured 1.3–1.6× faster than max_pool2d(relu(x)):
// the same values exactly (max is exact and ReLU monotone). With gradients it stays
// max_pool2d(relu(x)): pooling first measured ~5 % slower in training (bench/speed.sh).
torch::Tensor relu_pool2(const torch::Tensor& x) {  // [B, C, H, W] → [B, C, H/2, W/2]
  if (torch::GradMode::is_enabled() || !x.is_cpu()) return torch::max_pool2d(torch::relu(x), 2);
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2) / 2, w = x.size(3) / 2;
  const torch::Tensor even = x.narrow(2, 0, 2 * h).narrow(3, 0, 2 * w);  // max_pool2d drops an odd last row/column
  return torch::relu(even.reshape({b, c, h, 2, w, 2}).amax({3, 5}));
}

// A valid, stride-1 convolution of one input channel as an explicit im2col GEMM, its output in
// channels-last strides. On the CPU LibTorch's convolution runs a one-channel 5×5 layer at
// 15–17 GFLOP/s, the same product as a GEMM near the SGEMM rate, and channels-last lets the
// pooling after it vectorise over channels (bench/bench_cnn_step: a training step 1.3–1.6×
// faster, the no-grad forward ~1.9×; with three channels it gained nothing in training and lost
// without gradients, so those keep LibTorch's convolution). Used only on an input that needs no
// gradient (the data): the backward is then one GEMM for the weight, no col2im.
torch::Tensor single_channel_conv(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  // x [B, 1, H, W]; weight [O, 1, k, k]; bias [O]
  const int64_t b = x.size(0), o = weight.size(0), k = weight.size(2);
  const int64_t h = x.size(2) - k + 1, w = x.size(3) - k + 1;
  // Windows as a strided view, copied once into rows: half the time of im2col + transpose at
  // batch 64 (the same values).
  const torch::Tensor cols = x.select(1, 0).unfold(1, k, 1).unfold(2, k, 1)  // [B, h, w, k, k] view
                                 .reshape({b * h * w, k * k});                  // [B·h·w, k²]
  return torch::addmm(bias, cols, weight.reshape({o, k * k}).t())  // [B·h·w, O]
      .view({b, h, w, o})
      .permute({0, 3, 1, 2});  // [B, O, h, w], channels-last strides
}

// 2×2 max-pool then ReLU: the same values and gradients as ReLU then pool (max is exact, ReLU
// monotone, and both pass no gradient where the window's maximum is ≤ 0); on channels-last
// feature maps the faster order.
torch::Tensor pool2_relu(const torch::Tensor& x) { return torch::relu(torch::max_pool2d(x, 2)); }

// The FedAvg CNN (McMahan et al. 2017; PFLlib's FedAvgCNN, same parameter names).
struct CnnNet : ZooNet {
  CnnNet(int64_t channels, int64_t fc_in, int64_t classes)
      : conv1(register_module("conv1", nn::Conv2d(nn::Conv2dOptions(channels, 32, 5)))),
        conv2(register_module("conv2", nn::Conv2d(nn::Conv2dOptions(32, 64, 5)))),
        fc1(register_module("fc1", nn::Linear(fc_in, 512))),
        fc(register_module("fc", nn::Linear(512, classes))) {}
  torch::Tensor forward(torch::Tensor x) override {
    if (x.is_cpu() && x.size(1) == 1 && !x.requires_grad()) {
      x = pool2_relu(single_channel_conv(x, conv1->weight, conv1->bias));  // [B, 32, (H-4)/2, (W-4)/2] channels-last
      x = pool2_relu(conv2->forward(x));                                    // [B, 64, h, w] channels-last
    } else {
      x = relu_pool2(conv1->forward(x));  // [B, 32, (H-4)/2, (W-4)/2]
      x = relu_pool2(conv2->forward(x));  // [B, 64, h, w]
    }
    x = torch::relu(fc1->forward(x.flatten(1)));  // [B, 512], features in (c, h, w) order
    return fc->forward(x);                        // [B, classes]
  }
  // The G copies' channels side by side ([B, G·C, H, W]) through grouped convolutions (groups =
  // G: copy g sees only its own channels), then batched products for the linear layers.
  bool stacks_clients() const override { return true; }
  torch::Tensor forward_stacked(const std::vector<torch::Tensor>& params, const torch::Tensor& x_in) override {
    const int64_t g = x_in.size(0), b = x_in.size(1);
    StackedParams next(params);
    torch::Tensor x = x_in.transpose(0, 1).flatten(1, 2);  // [B, G·C, H, W]
    for (int conv = 0; conv < 2; ++conv) {
      const torch::Tensor weight = next.next().flatten(0, 1);  // [G, out, in, k, k] → [G·out, in, k, k]
      const torch::Tensor bias = next.next().flatten(0, 1);    // [G, out] → [G·out]
      const std::vector<int64_t> ones{1, 1}, zeros{0, 0};  // stride, dilation; padding
      x = relu_pool2(torch::conv2d(x, weight, bias, torch::IntArrayRef(ones), torch::IntArrayRef(zeros),
                                   torch::IntArrayRef(ones), g));  // [B, G·out, h, w]
    }
    x = x.reshape({b, g, -1}).transpose(0, 1);  // [G, B, 64·h·w], each copy's features in (c, h, w) order
    x = torch::relu(stacked_linear(next, x));  // [G, B, 512]
    return stacked_linear(next, x);            // [G, B, classes]
  }
  nn::Conv2d conv1, conv2;
  nn::Linear fc1, fc;
};

nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}

// ResNet BasicBlock: two 3×3 convs with BN, identity or 1×1-conv+BN shortcut.
struct BasicBlockImpl : nn::Module {
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride)
      : conv1(register_module("conv1", conv3x3(in, out, stride))),
        bn1(register_module("bn1", nn::BatchNorm2d(out))),
        conv2(register_module("conv2", conv3x3(out, out, 1))),
        bn2(register_module("bn2", nn::BatchNorm2d(out))) {
    if (stride != 1 || in != out) {
      shortcut = register_module(
          "shortcut", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)),
                                     nn::BatchNorm2d(out)));
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor out = torch::relu(bn1->forward(conv1->forward(x)));  // [B, out, H/s, W/s]
    out = bn2->forward(conv2->forward(out));                           // [B, out, H/s, W/s]
    out = out + (shortcut.is_empty() ? x : shortcut->forward(x));      // [B, out, H/s, W/s]
    return torch::relu(out);
  }
  // Declared (so initialised and registered) in forward order: the layer rule depends on it.
  nn::Conv2d conv1;
  nn::BatchNorm2d bn1;
  nn::Conv2d conv2;
  nn::BatchNorm2d bn2;
  nn::Sequential shortcut{nullptr};
};
TORCH_MODULE(BasicBlock);

// ResNet-18, CIFAR variant: 3×3 stem (stride 1, no max-pool), stages [2, 2, 2, 2] of 64..512.
struct ResNet18Net : ZooNet {
  ResNet18Net(int64_t channels, int64_t classes)
      : conv1(register_module("conv1", conv3x3(channels, 64, 1))), bn1(register_module("bn1", nn::BatchNorm2d(64))) {
    const int64_t widths[4] = {64, 128, 256, 512};
    int64_t in = 64;
    for (int s = 0; s < 4; ++s) {
      nn::Sequential stage(BasicBlock(in, widths[s], s == 0 ? 1 : 2), BasicBlock(widths[s], widths[s], 1));
      stages.push_back(register_module(fmt::format("layer{}", s + 1), stage));
      in = widths[s];
    }
    fc = register_module("fc", nn::Linear(512, classes));
  }
  torch::Tensor forward(torch::Tensor x) override {
    x = torch::relu(bn1->forward(conv1->forward(x)));  // [B, 64, H, W]
    for (auto& stage : stages) x = stage->forward(x);   // [B, 512, H/8, W/8]
    x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);  // [B, 512]
    return fc->forward(x);                                  // [B, classes]
  }
  nn::Conv2d conv1;
  nn::BatchNorm2d bn1;
  std::vector<nn::Sequential> stages;
  nn::Linear fc{nullptr};
};

// A zoo network with flat parameters.
class NNModel : public FlatModuleBase {
 public:
  NNModel(std::string name, std::shared_ptr<ZooNet> net) : net_(std::move(net)) {
    name_ = std::move(name);
    std::vector<ModuleParams> modules;
    for (const auto& item : net_->named_modules()) {  // pre-order = registration order
      ModuleParams m{item.key(), item.value()->name(), {}};
      for (const auto& p : item.value()->named_parameters(/*recurse=*/false)) {
        m.params.emplace_back(item.key().empty() ? p.key() : item.key() + "." + p.key(), p.value());
      }
      modules.push_back(std::move(m));
    }
    std::vector<torch::Tensor> buffers;
    for (const auto& b : net_->named_buffers()) buffers.push_back(b.value());
    flatten(group_layers(modules), std::move(buffers));
  }
  torch::Tensor forward(const torch::Tensor& x) override { return net_->forward(x); }
  bool stacks_clients() const override { return net_->stacks_clients(); }
  torch::Tensor forward_stacked(const std::vector<torch::Tensor>& params, const torch::Tensor& x) override {
    return stacks_clients() ? net_->forward_stacked(params, x) : FlatModel::forward_stacked(params, x);
  }
  void train(bool on) override { net_->train(on); }

 private:
  std::shared_ptr<ZooNet> net_;
};

// A TorchScript module with flat parameters; layers = modules that own parameters, as above.
class ScriptModel : public FlatModuleBase {
 public:
  ScriptModel(std::string name, torch::jit::Module module) : module_(std::move(module)) {
    name_ = std::move(name);
    std::vector<ModuleParams> modules;
    for (const auto& item : module_.named_modules()) {  // pre-order over the attribute slots
      const auto type_name = item.value.type()->name();
      ModuleParams m{item.name, type_name ? type_name->qualifiedName() : std::string(), {}};
      for (const auto& p : item.value.named_parameters(/*recurse=*/false)) {
        // Every parameter is trained (freezing is the algorithm's choice, not the archive's).
        p.value.requires_grad_(true);
        m.params.emplace_back(item.name.empty() ? p.name : item.name + "." + p.name, p.value);
      }
      modules.push_back(std::move(m));
    }
    std::vector<torch::Tensor> buffers;
    for (const auto& b : module_.named_buffers()) buffers.push_back(b.value);
    flatten(group_layers(modules), std::move(buffers));
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    const c10::IValue out = module_.forward({x});
    if (!out.isTensor()) {
      throw ConfigError(fmt::format("model.name: {}: forward must return one tensor of logits, got {}", name_,
                                    out.tagKind()));
    }
    return out.toTensor();  // [B, classes]
  }
  void train(bool on) override { module_.train(on); }

 private:
  torch::jit::Module module_;
};

}  // namespace

std::unique_ptr<FlatModel> build_logreg(const std::string& name, const std::vector<int64_t>& sample_shape,
                                        int64_t num_classes) {
  return std::make_unique<NNModel>(name, std::make_shared<MlpNet>(flat_features(sample_shape),
                                                                  std::vector<int64_t>{}, num_classes));
}

std::unique_ptr<FlatModel> build_mlp(const std::string& name, const std::vector<int64_t>& sample_shape,
                                     const std::vector<int64_t>& hidden, int64_t num_classes) {
  if (hidden.empty()) throw ConfigError("model.hidden: mlp needs at least one hidden width (use logreg for none)");
  for (int64_t w : hidden) {
    if (w < 1) throw ConfigError(fmt::format("model.hidden: widths must be ≥ 1, got {}", shape_text(hidden)));
  }
  return std::make_unique<NNModel>(name, std::make_shared<MlpNet>(flat_features(sample_shape), hidden, num_classes));
}

std::unique_ptr<FlatModel> build_cnn(const std::string& name, const std::vector<int64_t>& sample_shape,
                                     int64_t num_classes) {
  require_image(name, sample_shape);
  // Two (5×5 valid conv, 2×2 max-pool) stages: 28 → 24 → 12 → 8 → 4, 32 → 28 → 14 → 10 → 5.
  auto out = [](int64_t n) { return ((n - 4) / 2 - 4) / 2; };
  const int64_t h = out(sample_shape[1]), w = out(sample_shape[2]);
  if (sample_shape[1] < 16 || sample_shape[2] < 16) {
    throw ConfigError(fmt::format("model.name: cnn needs images of at least 16×16; the data set gives {}",
                                  shape_text(sample_shape)));
  }
  return std::make_unique<NNModel>(name, std::make_shared<CnnNet>(sample_shape[0], 64 * h * w, num_classes));
}

std::unique_ptr<FlatModel> build_resnet18(const std::string& name, const std::vector<int64_t>& sample_shape,
                                          int64_t num_classes) {
  require_image(name, sample_shape);  // any H, W: the global average pool takes what is left
  return std::make_unique<NNModel>(name, std::make_shared<ResNet18Net>(sample_shape[0], num_classes));
}

std::unique_ptr<FlatModel> build_torchscript(const std::string& name, const std::string& path) {
  std::error_code ec;
  if (path.empty()) throw ConfigError("model.name: torchscript:PATH needs a file name after 'torchscript:'");
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw ConfigError(fmt::format("model.name: TorchScript file '{}' does not exist or is not a file", path));
  }
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, torch::kCPU);  // parameters land on the CPU; to() moves them
  } catch (const c10::Error& e) {
    std::string why = e.what_without_backtrace();
    why = why.substr(0, why.find('\n'));
    throw ConfigError(fmt::format("model.name: '{}' is not a readable TorchScript archive (torch.jit.save): {}", path,
                                  why));
  }
  return std::make_unique<ScriptModel>(name, std::move(module));
}

}  // namespace fedsaf::detail

// Each model's registration (model/model_registry.hpp), in model.name's order.
namespace fedsaf {
namespace {

const bool logreg = models().add({10, "logreg", "(multinomial logistic regression)"}, [](const ModelRequest& r) {
  return detail::build_logreg(r.config.name, r.sample_shape, r.num_classes);
});
const bool mlp = models().add({20, "mlp", "(fully connected, model.hidden widths)"}, [](const ModelRequest& r) {
  return detail::build_mlp(r.config.name, r.sample_shape, r.config.hidden, r.num_classes);
});
const bool cnn = models().add({30, "cnn", "(the FedAvg CNN)"}, [](const ModelRequest& r) {
  return detail::build_cnn(r.config.name, r.sample_shape, r.num_classes);
});
const bool resnet18 = models().add({40, "resnet18", "(for 32×32 inputs)"}, [](const ModelRequest& r) {
  return detail::build_resnet18(r.config.name, r.sample_shape, r.num_classes);
});
// The weights come from the file; the seed plays no part.
const bool torchscript = models().add({50, "torchscript:", "(a user's TorchScript module)"}, [](const ModelRequest& r) {
  return detail::build_torchscript(r.config.name, r.config.name.substr(std::string("torchscript:").size()));
});

}  // namespace
}  // namespace fedsaf
