// The fedsaf HDF5 data set file (written by `fedsaf convert images`, or by h5py):
//   /x     [N, C, H, W] uint8 (images) or [N, D] float32 (vectors)
//   /y     [N] int64 labels, optional string-array attribute class_names
//   /group [N] int64 natural group ids (optional)
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "core/errors.hpp"
#include "data/data_paths.hpp"
#include "data/dataset_registry.hpp"
#include "data/readers.hpp"
#include "io/h5.hpp"

namespace fedsaf {

namespace {

// The class indices below the largest of `used` (ascending, distinct, ≥ 0) that are not in it, as
// text: the first few, then how many more.
std::string unused_classes(const torch::Tensor& used) {
  constexpr int kShown = 5;
  std::string text;
  int64_t shown = 0, missing = 0, expected = 0;
  for (int64_t i = 0; i < used.numel(); ++i) {
    const int64_t label = used[i].item<int64_t>();
    for (int64_t c = expected; c < label && shown < kShown; ++c, ++shown)
      text += (text.empty() ? "class " : ", ") + std::to_string(c);
    missing += label - expected;
    expected = label + 1;
  }
  if (missing > shown) text += fmt::format(" and {} more", missing - shown);
  return text;
}

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw DataError(fmt::format("{}: {}", path, what));
}

// A 1-D int64 data set of n entries, every value >= 0, as a tensor.
torch::Tensor read_index_vector(const std::string& path, const h5::File& file, const std::string& name, int64_t n,
                                const std::string& role) {
  const h5::Dataset d = file.open_dataset(name);
  const std::vector<int64_t> shape = d.shape();
  if (shape.size() != 1) {
    bad(path, fmt::format("/{} must be 1-D [N] ({}), but has {} dimensions", name, role, shape.size()));
  }
  if (d.dtype() != h5::DType::kI64) {
    bad(path, fmt::format("/{} is {}, expected int64 ({})", name, h5::dtype_name(d.dtype()), role));
  }
  if (shape[0] != n) bad(path, fmt::format("/{} has {} entries but /x has {} samples", name, shape[0], n));
  torch::Tensor t = torch::empty({n}, torch::kInt64);
  d.read(t.data_ptr<int64_t>(), n);
  const int64_t* v = t.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    if (v[i] < 0) bad(path, fmt::format("/{}[{}] = {} is negative ({} must be >= 0)", name, i, v[i], role));
  }
  return t;
}

// Before anything is allocated: what the file declares (/x, plus 8 bytes per sample for /y and
// for /group) must fit in this machine's memory, and declared data sets must store data (an
// unwritten one would read back as zeros).
void check_declared_size(const std::string& path, const h5::File& file, const h5::Dataset& x,
                         const std::vector<int64_t>& shape) {
  double x_bytes = x.dtype() == h5::DType::kU8 ? 1.0 : 4.0;
  for (const int64_t d : shape) x_bytes *= static_cast<double>(d);
  const bool has_group = file.exists("group");
  const double bytes = x_bytes + 8.0 * static_cast<double>(shape[0]) * (has_group ? 2 : 1);
  const double memory = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGE_SIZE));
  const std::string declared = fmt::format("/x [{}] {} and int64 {} declare {:.3g} GB", fmt::join(shape, ", "),
                                           h5::dtype_name(x.dtype()), has_group ? "/y, /group" : "/y", bytes / 1e9);
  if (memory > 0 && bytes > memory) bad(path, fmt::format("{}, more than this machine's memory ({:.3g} GB)", declared, memory / 1e9));
  for (const char* name : {"x", "y", "group"}) {
    if (!file.exists(name)) continue;
    if (file.open_dataset(name).storage_bytes() == 0)
      bad(path, fmt::format("/{} is declared but stores no data (never written)", name));
  }
}

Dataset read_file(const std::string& path) {
  const h5::File file = h5::File::open(path, h5::Mode::kRead);
  if (!file.exists("x")) bad(path, "no data set /x (samples: [N,C,H,W] uint8 or [N,D] float32)");
  if (!file.exists("y")) bad(path, "no data set /y (labels: [N] int64)");

  const h5::Dataset x = file.open_dataset("x");
  const std::vector<int64_t> shape = x.shape();
  const h5::DType xtype = x.dtype();
  if (shape.size() == 4) {
    if (xtype != h5::DType::kU8) bad(path, fmt::format("/x is [N,C,H,W] {}, expected uint8", h5::dtype_name(xtype)));
  } else if (shape.size() == 2) {
    if (xtype != h5::DType::kF32) bad(path, fmt::format("/x is [N,D] {}, expected float32", h5::dtype_name(xtype)));
  } else {
    bad(path, fmt::format("/x has {} dimensions; expected [N,C,H,W] uint8 images or [N,D] float32 vectors",
                          shape.size()));
  }
  const int64_t n = shape[0];
  if (n == 0) bad(path, "/x holds no samples");
  if (std::any_of(shape.begin() + 1, shape.end(), [](int64_t d) { return d <= 0; })) {
    bad(path, "/x has an empty sample dimension");
  }

  check_declared_size(path, file, x, shape);

  Dataset data;
  data.name = std::filesystem::path(path).filename().string();
  data.y = read_index_vector(path, file, "y", n, "labels");
  if (file.exists("group")) data.group = read_index_vector(path, file, "group", n, "group ids");

  const int64_t max_label = data.y.max().item<int64_t>();
  const h5::Dataset y = file.open_dataset("y");
  if (y.attrs().has("class_names")) {
    data.class_names = y.attrs().get_strings("class_names");
    data.num_classes = static_cast<int64_t>(data.class_names.size());
    if (max_label >= data.num_classes) {
      const int64_t at = data.y.argmax().item<int64_t>();
      bad(path, fmt::format("/y[{}] = {} but attribute class_names on /y lists only {} classes", at, max_label,
                            data.num_classes));
    }
  } else {
    // Without class_names the largest label sets the class count (the model's outputs): a class
    // index no sample uses, however few, means a stray label (200 among 0-9 would make 201 classes).
    const torch::Tensor used = std::get<0>(torch::unique_consecutive(std::get<0>(data.y.sort())));  // [distinct] ascending
    if (used.numel() != max_label + 1) {
      const int64_t at = data.y.argmax().item<int64_t>();
      bad(path, fmt::format("/y[{}] = {} would make {} classes, but {} of them ({}) no sample uses: a stray label? "
                            "add a string attribute class_names to /y listing every class if these are meant",
                            at, max_label, max_label + 1, max_label + 1 - used.numel(), unused_classes(used)));
    }
    data.num_classes = max_label + 1;
    for (int64_t c = 0; c < data.num_classes; ++c) data.class_names.push_back(std::to_string(c));
  }

  data.x = torch::empty(shape, xtype == h5::DType::kU8 ? torch::kUInt8 : torch::kFloat32);
  if (xtype == h5::DType::kU8) x.read(data.x.data_ptr<uint8_t>(), data.x.numel());
  else x.read(data.x.data_ptr<float>(), data.x.numel());
  if (xtype == h5::DType::kF32) {
    // A NaN or ±inf input makes its client's model non-finite in its first step: refuse it here.
    const torch::Tensor bad_rows = (~torch::isfinite(data.x)).any(1).nonzero();  // [k, 1]
    if (bad_rows.size(0) > 0) {
      const int64_t i = bad_rows[0][0].item<int64_t>();
      const int64_t j = (~torch::isfinite(data.x[i])).nonzero()[0][0].item<int64_t>();
      bad(path, fmt::format("/x[{}, {}] = {} is not a finite number ({} sample(s) hold NaN or infinity; clean or "
                            "drop them)",
                            i, j, data.x[i][j].item<float>(), bad_rows.size(0)));
    }
  }
  return data;
}

}  // namespace

Dataset read_hdf5_dataset(const std::string& path) {
  try {
    return read_file(path);
  } catch (const IoError& e) {
    // The HDF5 layer's message already names the file and object.
    throw DataError(e.what());
  }
}

namespace {
const bool registered = datasets().add({50, "hdf5", "(a fedsaf HDF5 data set file in data.path)"},
                                       [](const Config& c, const ReaderRanks&) {
  const std::string& path = required_data_path(c, "the fedsaf HDF5 data set file");
  return DatasetSource{read_hdf5_dataset(path), path};
});
}  // namespace

}  // namespace fedsaf
