// Dataset accessors and load_dataset(): runs the reader the config names (data/dataset_registry.hpp),
// checks what it returned, and sets the normalisation batch() applies.
#include "data/dataset.hpp"

#include <fmt/format.h>

#include <array>
#include <cmath>

#include "core/errors.hpp"
#include "data/dataset_registry.hpp"

namespace fedsaf {

namespace {

// Channels of the normalisation: C for images [N, C, H, W], 1 for vectors [N, D].
int64_t norm_channels(const Dataset& d) { return d.x.dim() == 4 ? d.x.size(1) : 1; }

// Per-channel mean and (population) std of x·scale over the whole set. uint8 images: exact, from
// a 256-bin histogram per channel (one pass over the bytes, no float copy of the set). Float data:
// one value over all entries, summed in double in two passes.
void standard_stats(const Dataset& d, std::vector<double>& mean, std::vector<double>& sd) {
  const int64_t channels = norm_channels(d);
  mean.assign(static_cast<size_t>(channels), 0.0);
  sd.assign(static_cast<size_t>(channels), 1.0);
  const torch::Tensor x = d.x.contiguous();  // [N, ...], a view when already contiguous
  if (x.scalar_type() == torch::kUInt8) {
    const int64_t n = x.size(0), plane = x.numel() / std::max<int64_t>(n * channels, 1);
    const uint8_t* p = x.data_ptr<uint8_t>();
    std::vector<std::array<int64_t, 256>> hist(static_cast<size_t>(channels));
    for (auto& h : hist) h.fill(0);
    for (int64_t s = 0; s < n; ++s) {
      for (int64_t c = 0; c < channels; ++c, p += plane) {
        auto& h = hist[static_cast<size_t>(c)];
        for (int64_t i = 0; i < plane; ++i) ++h[p[i]];
      }
    }
    for (int64_t c = 0; c < channels; ++c) {
      const auto& h = hist[static_cast<size_t>(c)];
      double count = 0, sum = 0;
      for (int v = 0; v < 256; ++v) {
        count += static_cast<double>(h[v]);
        sum += static_cast<double>(h[v]) * v;
      }
      const double m = sum / count;
      double var = 0;
      for (int v = 0; v < 256; ++v) var += static_cast<double>(h[v]) * (v - m) * (v - m);
      mean[c] = m * d.scale;
      sd[c] = std::sqrt(var / count) * d.scale;
    }
  } else {
    const torch::Tensor flat = x.to(torch::kFloat32).reshape({-1});  // [N·D]
    const float* p = flat.data_ptr<float>();
    const int64_t count = flat.numel();
    double sum = 0;
    for (int64_t i = 0; i < count; ++i) sum += p[i];
    const double m = sum / static_cast<double>(count);
    double var = 0;
    for (int64_t i = 0; i < count; ++i) var += (p[i] - m) * (p[i] - m);
    mean[0] = m * d.scale;
    sd[0] = std::sqrt(var / static_cast<double>(count)) * d.scale;
  }
  // A constant channel has std 0: leave it unscaled rather than dividing by zero.
  for (auto& s : sd) {
    if (!(s > 0.0) || !std::isfinite(s)) s = 1.0;
  }
}

// Sets scale/mean/std from data.normalize.
void set_normalisation(Dataset& d, const std::string& mode, const std::string& source) {
  const bool images = d.x.scalar_type() == torch::kUInt8;
  const std::string m = mode == "auto" ? (images ? "symmetric" : "none") : mode;
  const auto channels = static_cast<size_t>(norm_channels(d));
  d.scale = 1.0;
  d.mean.assign(channels, 0.0);
  d.std.assign(channels, 1.0);
  if (m == "none") return;
  if (m == "unit") {
    d.scale = 1.0 / 255.0;
  } else if (m == "symmetric") {
    d.scale = 1.0 / 255.0;
    d.mean.assign(channels, 0.5);
    d.std.assign(channels, 0.5);
  } else if (m == "standard") {
    d.scale = images ? 1.0 / 255.0 : 1.0;
    standard_stats(d, d.mean, d.std);
  } else {
    throw ConfigError(fmt::format("{}: data.normalize = \"{}\" is not one of auto, none, unit, symmetric, standard",
                                  source, mode));
  }
}

// What every reader must return; a reader bug or an odd HDF5 file is caught here, once.
void check(const Dataset& d, const std::string& where) {
  auto fail = [&](const std::string& what) { throw DataError(fmt::format("{}: {}", where, what)); };
  if (!d.x.defined() || !d.y.defined()) fail("no samples were read");
  if (d.x.dim() != 2 && d.x.dim() != 4) fail(fmt::format("x has {} dimensions, expected [N, D] or [N, C, H, W]", d.x.dim()));
  if (d.x.dim() == 4 && d.x.scalar_type() != torch::kUInt8) fail("images [N, C, H, W] must be uint8");
  if (d.x.scalar_type() != torch::kUInt8 && d.x.scalar_type() != torch::kFloat32) fail("x must be uint8 or float32");
  if (d.y.dim() != 1 || d.y.scalar_type() != torch::kInt64) fail("y must be a 1-D int64 tensor");
  if (d.x.size(0) != d.y.size(0)) fail(fmt::format("{} samples but {} labels", d.x.size(0), d.y.size(0)));
  if (d.size() == 0) fail("the data set has no samples");
  if (d.group.defined() && (d.group.dim() != 1 || d.group.size(0) != d.size())) {
    fail(fmt::format("group must be [N] = [{}], but has {} dimensions and {} entries", d.size(), d.group.dim(),
                    d.group.numel()));
  }
  if (d.num_classes < 1) fail(fmt::format("num_classes = {} must be >= 1", d.num_classes));
  const int64_t lo = d.y.min().item<int64_t>(), hi = d.y.max().item<int64_t>();
  if (lo < 0 || hi >= d.num_classes) {
    fail(fmt::format("labels span [{}, {}], outside [0, {})", lo, hi, d.num_classes));
  }
}

}  // namespace

std::vector<int64_t> Dataset::sample_shape() const {
  const auto s = x.sizes();
  return std::vector<int64_t>(s.begin() + 1, s.end());
}

torch::Tensor Dataset::batch(const torch::Tensor& idx) const {
  // idx [B] int64 → out [B, ...] float32, out = (x·scale − mean[c]) / std[c].
  torch::Tensor out = x.index_select(0, idx).to(torch::kFloat32);  // [B, ...]
  const int64_t channels = static_cast<int64_t>(mean.size());
  // Dividing by 1/scale (not multiplying by scale) keeps x/255 correctly rounded: 255 → 1.0 and,
  // with mean = std = 0.5, 0 → −1 and 255 → 1 exactly.
  if (scale != 1.0) out.div_(static_cast<float>(1.0 / scale));
  bool identity = true;
  for (size_t c = 0; c < mean.size(); ++c) identity = identity && mean[c] == 0.0 && std[c] == 1.0;
  if (identity) return out;
  if (channels == 1) return out.sub_(mean[0]).div_(std[0]);
  // Per-channel statistics shaped to broadcast over [B, C, H, W].
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor m = torch::tensor(mean, opts).to(out.device(), torch::kFloat32).view({1, channels, 1, 1});  // [1, C, 1, 1]
  const torch::Tensor s = torch::tensor(std, opts).to(out.device(), torch::kFloat32).view({1, channels, 1, 1});   // [1, C, 1, 1]
  return out.sub_(m).div_(s);
}

Dataset Dataset::on(const torch::Device& device) const {
  Dataset d = *this;
  d.x = x.to(device);  // [N, ...] same dtype
  d.y = y.to(device);  // [N] int64
  return d;
}

std::vector<int64_t> Dataset::labels() const {
  const torch::Tensor t = y.contiguous();  // [N]
  const int64_t* p = t.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + t.numel());
}

std::vector<int64_t> Dataset::groups() const {
  if (!group.defined()) return {};
  const torch::Tensor t = group.to(torch::kInt64).contiguous();  // [N]
  const int64_t* p = t.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + t.numel());
}

Dataset load_dataset(const Config& config, const ReaderRanks& ranks) {
  const DataConfig& c = config.data;
  DatasetSource read = datasets().get(c.dataset, config.source)(config, ranks);
  Dataset& d = read.data;
  check(d, read.where);
  if (d.class_names.empty()) {
    for (int64_t k = 0; k < d.num_classes; ++k) d.class_names.push_back(std::to_string(k));
  }
  set_normalisation(d, c.normalize, config.source);
  return d;
}

}  // namespace fedsaf
