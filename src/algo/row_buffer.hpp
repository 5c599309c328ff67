#pragma once
// A [rows, numel] CPU buffer kept from call to call, for row sets that are rebuilt every round
// (the held uploads gathered from the client-state store, their Fisher weights, the query rows).
// A fresh tensor of that size each round is fresh memory, which the kernel maps and zeroes page
// by page on first touch: at 10,000 clients that cost FedSAF's attention stage as much time as
// its arithmetic (perf: clear_page under the store's gathers). Kept, the pages are touched once.
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>

namespace fedsaf {

class RowBuffer {
 public:
  // The first `rows` rows of the kept buffer, as [rows, numel] of dtype (contents unspecified).
  // When it is too small the buffer is replaced by one of at least twice the rows: row sets grow
  // from round to round, and the pages beyond the rows in use are never touched, so spare rows
  // cost address space, not memory.
  torch::Tensor rows(int64_t rows, int64_t numel, torch::ScalarType dtype = torch::kFloat32) {
    const bool same_shape = buffer_.defined() && buffer_.size(1) == numel && buffer_.scalar_type() == dtype;
    if (!same_shape || buffer_.size(0) < rows) {
      const int64_t capacity = same_shape ? std::max(rows, 2 * buffer_.size(0)) : rows;
      buffer_ = torch::Tensor();  // let go of the old rows before asking for the new ones
      buffer_ = torch::empty({capacity, numel}, torch::TensorOptions().dtype(dtype));  // [capacity, numel]
    }
    return buffer_.narrow(0, 0, rows);  // [rows, numel]
  }

 private:
  torch::Tensor buffer_;  // [capacity, numel]
};

}  // namespace fedsaf
