#include "model/flat_params.hpp"

#include <fmt/format.h>

#include <unordered_set>

#include "core/errors.hpp"

namespace fedsaf {

namespace {
// Whether t is a contiguous [shape] view of `base` starting at element `offset` of it.
bool is_view_at(const torch::Tensor& t, const torch::Tensor& base, int64_t offset) {
  return t.defined() && t.has_storage() && t.storage().unsafeGetStorageImpl() == base.storage().unsafeGetStorageImpl() &&
         t.storage_offset() == base.storage_offset() + offset && t.is_contiguous();
}

// A contiguous [sizes] tensor over base's storage from element `offset`, made with set_ rather
// than narrow/view: it is not an autograd view, so an optimiser's zero_grad (grad.detach_();
// grad.zero_() in LibTorch 1.13) works on it; detach_ refuses views.
torch::Tensor alias(const torch::Tensor& base, int64_t offset, c10::IntArrayRef sizes) {
  std::vector<int64_t> strides(sizes.size(), 1);  // contiguous (row-major)
  for (size_t i = sizes.size(); i-- > 1;) strides[i - 1] = strides[i] * std::max<int64_t>(sizes[i], 1);
  return torch::empty({0}, base.options()).set_(base.storage(), base.storage_offset() + offset, sizes, strides);
}
}  // namespace

void FlatModel::bind_views() {
  torch::NoGradGuard no_grad;
  int64_t offset = 0;
  for (torch::Tensor& p : parameters()) {
    // set_data swaps the storage under the same TensorImpl, so the module (which holds the same
    // impl) reads the view; the parameter stays a leaf that requires grad.
    p.set_data(alias(flat_, offset, p.sizes()));  // [shape] over flat_
    // A defined .grad is accumulated in place (+=) by autograd, so it keeps pointing into flat_grad_.
    p.mutable_grad() = alias(flat_grad_, offset, p.sizes());  // [shape] over flat_grad_
    offset += p.numel();
  }
  TORCH_CHECK(offset == flat_.numel(), "fedsaf: flat layout covers ", offset, " of ", flat_.numel(), " elements");
}

void FlatModel::zero_grad() {
  flat_grad_.zero_();
  int64_t offset = 0;
  for (torch::Tensor& p : parameters()) {
    if (!is_view_at(p.grad(), flat_grad_, offset)) p.mutable_grad() = alias(flat_grad_, offset, p.sizes());  // [shape]
    offset += p.numel();
  }
}

bool FlatModel::aliased() {
  int64_t offset = 0;
  for (const torch::Tensor& p : parameters()) {
    if (!is_view_at(p, flat_, offset) || !is_view_at(p.grad(), flat_grad_, offset)) return false;
    offset += p.numel();
  }
  return offset == flat_.numel();
}

namespace detail {

std::vector<LayerParams> group_layers(const std::vector<ModuleParams>& modules) {
  std::vector<LayerParams> layers;
  std::unordered_set<const void*> seen;  // TensorImpls already placed (tied weights)
  for (const ModuleParams& m : modules) {
    std::vector<NamedTensor> own;
    for (const NamedTensor& p : m.params) {
      if (seen.insert(p.second.unsafeGetTensorImpl()).second) own.push_back(p);
    }
    if (own.empty()) continue;
    const bool is_norm = m.type.find("BatchNorm") != std::string::npos;
    if (is_norm && !layers.empty()) {
      // A BN normalises the output of the layer before it: split both sides together.
      layers.back().params.insert(layers.back().params.end(), own.begin(), own.end());
    } else {
      layers.push_back(LayerParams{m.path.empty() ? std::string("(root)") : m.path, std::move(own)});
    }
  }
  return layers;
}

void FlatModuleBase::flatten(const std::vector<LayerParams>& layers, std::vector<torch::Tensor> buffers) {
  torch::NoGradGuard no_grad;
  params_.clear();
  layers_.clear();
  int64_t total = 0;
  torch::Device device = torch::kCPU;
  for (const LayerParams& layer : layers) {
    LayerInfo info;
    info.name = layer.name;
    info.offset = total;
    for (const auto& [pname, p] : layer.params) {
      if (p.scalar_type() != torch::kFloat32) {
        throw ConfigError(fmt::format("model.name: {}: parameter '{}' is {}; fedsaf needs float32 parameters", name_,
                                      pname, std::string(c10::toString(p.scalar_type()))));
      }
      device = p.device();
      info.params.push_back(pname);
      info.numel += p.numel();
      params_.push_back(p);
    }
    total += info.numel;
    layers_.push_back(std::move(info));
  }
  if (params_.empty()) throw ConfigError(fmt::format("model.name: {} has no parameters", name_));
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  flat_ = torch::empty({total}, options);       // [P]
  flat_grad_ = torch::zeros({total}, options);  // [P]
  int64_t offset = 0;
  for (const torch::Tensor& p : params_) {
    flat_.narrow(0, offset, p.numel()).copy_(p.reshape({-1}));  // [n] ← the initial values
    offset += p.numel();
  }
  bind_views();
  buffers_ = std::move(buffers);
}

void FlatModuleBase::to(const torch::Device& device) {
  torch::NoGradGuard no_grad;
  flat_ = flat_.to(device);            // [P]
  flat_grad_ = flat_grad_.to(device);  // [P]
  bind_views();
  for (torch::Tensor& b : buffers_) b.set_data(b.to(device));  // same TensorImpl as the module's
}

}  // namespace detail
}  // namespace fedsaf
