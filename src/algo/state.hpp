#pragma once
// How an algorithm saves and restores its state across a checkpoint (src/sim/checkpoint.cpp
// stores it in HDF5). Both sides are collective: every rank makes the same calls, with the same
// names, in the same order. Per-client state lives with the rank that hosts the client; on a
// resume with another rank count, each rank reads the rows of the clients it now hosts.
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace fedsaf {

class StateWriter {
 public:
  virtual ~StateWriter() = default;
  // A tensor identical on every rank (e.g. the global model).
  virtual void global(const std::string& name, const torch::Tensor& value) = 0;
  // One tensor of `numel` elements per hosted client that has this state (ranks may have none);
  // stored as `dtype` (kFloat32, kFloat64 or kInt64).
  virtual void per_client(const std::string& name, int64_t numel, torch::ScalarType dtype,
                          const std::map<int64_t, torch::Tensor>& rows) = 0;
};

class StateReader {
 public:
  virtual ~StateReader() = default;
  // [as saved] on the CPU; throws IoError naming the entry when the checkpoint lacks it.
  virtual torch::Tensor global(const std::string& name) = 0;
  // The saved rows of those `hosted` clients that have one: client → [numel] on the CPU.
  virtual std::map<int64_t, torch::Tensor> per_client(const std::string& name, const std::vector<int64_t>& hosted) = 0;
};

// target ← saved (same numel; dtype and device of target); throws IoError naming `name` otherwise.
void restore_into(torch::Tensor& target, const torch::Tensor& saved, const std::string& name);

}  // namespace fedsaf
