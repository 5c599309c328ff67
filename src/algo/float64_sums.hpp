#pragma once
// Float64 sums over the rows or the columns of a float32 matrix without a float64 copy of all of
// it. `m.sum(dim, false, torch::kFloat64)` casts its whole input first: for FedSAF's held
// uploads at 10,000 clients that is a fresh [m, S] float64 tensor every round, whose page faults
// cost more than the sum (perf). These need no copy of the matrix (tests/algo/test_float64_sums.cpp).
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>

namespace fedsaf {

// Elements of float64 per slice: small enough to stay in the caches and reuse malloc's memory.
constexpr int64_t kFloat64SliceElements = int64_t{1} << 17;

// rows [m, S] float32, contiguous on the CPU → [S] float64: Σ over the rows, added one row after
// the other into one float64 accumulator per column. (Not the one-shot sum's order, which is a
// cascade: the two may differ in the last bits of the float64 sum, about 1e-16·m relative; column
// slices of the one-shot sum would keep its bits but read the rows with a stride of S, which was
// slower than the faults it saves.)
inline torch::Tensor column_sums_f64(const torch::Tensor& rows) {
  TORCH_CHECK(rows.scalar_type() == torch::kFloat32 && rows.is_contiguous() && rows.is_cpu(),
              "column_sums_f64: rows must be contiguous float32 on the CPU");
  const int64_t m = rows.size(0), s = rows.size(1);
  torch::Tensor out = torch::zeros({s}, torch::TensorOptions().dtype(torch::kFloat64));  // [S]
  double* acc = out.data_ptr<double>();
  const float* row = rows.data_ptr<float>();
  for (int64_t i = 0; i < m; ++i, row += s)
    for (int64_t p = 0; p < s; ++p) acc[p] += static_cast<double>(row[p]);
  return out;
}

// rows [m, S] float32 → [m] float64: Σ over each row (of its squares with squares = true), cast
// and summed one slice of about 1 MiB of rows at a time: each row is summed as the one-shot sum
// does, so the results equal it bit for bit.
inline torch::Tensor row_sums_f64(const torch::Tensor& rows, bool squares = false) {
  TORCH_CHECK(rows.scalar_type() == torch::kFloat32, "row_sums_f64: rows must be float32");
  const int64_t m = rows.size(0), s = rows.size(1);
  torch::Tensor out = torch::zeros({m}, torch::TensorOptions().dtype(torch::kFloat64));  // [m]
  const int64_t height = std::max<int64_t>(1, kFloat64SliceElements / std::max<int64_t>(s, 1));
  for (int64_t i = 0; i < m; i += height) {
    torch::Tensor part = out.narrow(0, i, std::min(height, m - i));  // [h]
    const torch::Tensor slice = rows.narrow(0, i, part.size(0));    // [h, S]
    torch::sum_out(part, squares ? slice.square() : slice, 1, false, torch::kFloat64);
  }
  return out;
}

}  // namespace fedsaf
