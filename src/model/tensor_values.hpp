#pragma once
// A tensor's values as a std::vector<double>: the form run records and algorithm diagnostics
// (core/diagnostics.hpp) hold, which know nothing of torch.
#include <torch/torch.h>

#include <vector>

namespace fedsaf {

// t: any shape (row-major order), dtype and device → its values as doubles, on the host.
inline std::vector<double> to_doubles(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kCPU, torch::kFloat64).contiguous();  // [numel]
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

}  // namespace fedsaf
