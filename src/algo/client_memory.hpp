#pragma once
// Where a rank keeps its clients' state (personal models, Fisher diagonals, held uploads, mixes):
// on its device while a byte budget lasts, beyond it in host memory — pinned when the device is a
// GPU, so that copying a client's state in and out runs at full bus speed. Values are identical
// either way (copies are exact); only where they sit, and so the speed, differs.
#include <torch/torch.h>

#include <cstdint>

namespace fedsaf {

class ClientMemory {
 public:
  // budget_bytes < 0: no limit (everything on the device).
  ClientMemory(torch::Device device, int64_t budget_bytes);

  // A new tensor with the values, dtype and shape of `value` (any device): on the device while
  // the budget lasts, else on the host. Use it for every per-client tensor an algorithm keeps.
  torch::Tensor keep(const torch::Tensor& value);

  const torch::Device& device() const { return device_; }
  int64_t budget_bytes() const { return budget_; }
  int64_t device_bytes() const { return device_bytes_; }  // kept on the device so far
  int64_t host_bytes() const { return host_bytes_; }      // spilled to host memory so far

 private:
  torch::Device device_;
  int64_t budget_;
  int64_t device_bytes_ = 0, host_bytes_ = 0;
};

// The automatic budget (run.device_state_mb = 0): on a GPU of `gpu_bytes` shared by
// `ranks_sharing` ranks, 40 % of it per rank's share (the rest is for the model, batches and the
// attention stage); on the CPU no limit (-1). Otherwise `configured_mb` MiB.
int64_t client_state_budget(double configured_mb, const torch::Device& device, int64_t gpu_bytes, int ranks_sharing);

}  // namespace fedsaf
