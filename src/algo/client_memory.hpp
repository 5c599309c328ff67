#pragma once
// Where a rank keeps its clients' state (personal models, Fisher diagonals, held uploads, mixes):
// on its device while a byte budget lasts; beyond it in host memory (pinned when the device is a
// GPU, so that copying a client's state in and out runs at full bus speed) while a host budget
// lasts; beyond that, with run.state_dir, in a scratch file on disk (disk_arena.hpp). Values are
// identical in every tier (copies are exact); only where they sit, and so the speed, differs.
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>

namespace fedsaf {

class DiskArena;

struct ClientMemoryBudget {
  int64_t device_bytes = -1;  // < 0: no limit (everything on the device)
  int64_t host_bytes = -1;    // < 0: no limit (no disk tier)
  std::string state_dir;      // the disk tier's folder; empty: none (the host takes the rest)
};

class ClientMemory {
 public:
  // Creates the disk tier's scratch file at once when budget.state_dir is set, so that a bad
  // folder is reported before the first round (IoError naming run.state_dir).
  ClientMemory(torch::Device device, ClientMemoryBudget budget);
  ClientMemory(torch::Device device, int64_t device_budget_bytes)
      : ClientMemory(device, ClientMemoryBudget{device_budget_bytes, -1, ""}) {}
  ~ClientMemory();

  // A new tensor with the values, dtype and shape of `value` (any device), in the first tier with
  // room. Use it for every per-client tensor an algorithm keeps.
  torch::Tensor keep(const torch::Tensor& value);
  bool on_disk(const torch::Tensor& kept) const;
  // Hints for a kept tensor in the disk tier (no-ops elsewhere): read it in the background; or
  // drop it from this process's resident pages after use (it stays in the file).
  void prefetch(const torch::Tensor& kept) const;
  void release(const torch::Tensor& kept) const;

  const torch::Device& device() const { return device_; }
  const ClientMemoryBudget& budget() const { return budget_; }
  int64_t budget_bytes() const { return budget_.device_bytes; }
  int64_t device_bytes() const { return device_bytes_; }  // kept on the device so far
  int64_t host_bytes() const { return host_bytes_; }      // kept in host memory so far
  int64_t disk_bytes() const { return disk_bytes_; }      // kept in the disk tier so far

 private:
  torch::Device device_;
  ClientMemoryBudget budget_;
  std::unique_ptr<DiskArena> arena_;
  int64_t device_bytes_ = 0, host_bytes_ = 0, disk_bytes_ = 0;
};

// The automatic device budget (run.device_state_mb = 0): on a GPU of `gpu_bytes` shared by
// `ranks_sharing` ranks, 40 % of it per rank's share (the rest is for the model, batches and the
// attention stage); on the CPU no limit (-1), or none at all (0) with a disk tier (`state_dir`), so
// that the host budget decides what stays in memory. Otherwise `configured_mb` MiB.
int64_t client_state_budget(double configured_mb, const torch::Device& device, int64_t gpu_bytes, int ranks_sharing,
                            const std::string& state_dir);

// The host budget (run.host_state_mb): `configured_mb` MiB when > 0; automatic (0): without a disk
// tier no limit (-1), with one half of `available_bytes` (the node's available memory at start)
// divided among the node's `node_ranks`.
int64_t client_state_host_budget(double configured_mb, const std::string& state_dir, int64_t available_bytes,
                                 int node_ranks);

}  // namespace fedsaf
