#include "support/dataset_checks.hpp"

#include <fmt/format.h>

#include "support/expected.hpp"

namespace fedsaf::fuzz {

void check_dataset(const Dataset& data) {
  if (!data.x.defined() || !data.y.defined()) violated("x or y is undefined");
  if (data.y.dim() != 1 || data.y.scalar_type() != torch::kInt64) violated("y is not a 1-D int64 tensor");
  const int64_t n = data.y.size(0);
  if (n < 1) violated("no samples");
  if (data.x.dim() < 2 || data.x.size(0) != n)
    violated(fmt::format("x has {} dimensions and {} rows for {} labels", data.x.dim(), data.x.size(0), n));
  const bool images = data.x.dim() == 4 && data.x.scalar_type() == torch::kUInt8;
  const bool vectors = data.x.dim() == 2 && data.x.scalar_type() == torch::kFloat32;
  if (!images && !vectors) violated("x is neither [N,C,H,W] uint8 nor [N,D] float32");
  if (vectors && !torch::isfinite(data.x).all().item<bool>()) violated("x holds a non-finite value");
  if (data.num_classes < 1 || static_cast<int64_t>(data.class_names.size()) != data.num_classes)
    violated(fmt::format("num_classes = {} with {} class names", data.num_classes, data.class_names.size()));
  const int64_t lo = data.y.min().item<int64_t>(), hi = data.y.max().item<int64_t>();
  if (lo < 0 || hi >= data.num_classes)
    violated(fmt::format("labels span [{}, {}] for {} classes", lo, hi, data.num_classes));
  if (data.group.defined()) {
    if (data.group.dim() != 1 || data.group.size(0) != n || data.group.scalar_type() != torch::kInt64)
      violated("group is not [N] int64");
    if (data.group.min().item<int64_t>() < 0) violated("a negative group id");
  }
}

}  // namespace fedsaf::fuzz
