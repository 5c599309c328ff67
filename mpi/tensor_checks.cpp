#include "mpi/tensor_checks.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join ({fmt} ≥ 11 moved it here)

#include "core/errors.hpp"

namespace fedsaf::comm_checks {

std::string dtype_name(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return "float32";
    case torch::kFloat64: return "float64";
    case torch::kInt64: return "int64";
    case torch::kInt32: return "int32";
    case torch::kUInt8: return "uint8";
    default: return c10::toString(t);
  }
}

std::string shape_string(const torch::Tensor& t) { return fmt::format("[{}]", fmt::join(t.sizes(), ", ")); }

void check_dense(const torch::Tensor& t, const char* op) {
  if (!t.defined()) throw Error(fmt::format("{}: tensor is undefined", op));
  if (t.layout() != torch::kStrided) throw Error(fmt::format("{}: tensor is not dense (layout {})", op, c10::toString(t.layout())));
  if (!t.is_cpu() && !t.is_cuda())
    throw Error(fmt::format("{}: tensor is on device {}; only CPU and CUDA tensors are supported", op, t.device().str()));
  switch (t.scalar_type()) {
    case torch::kFloat32: case torch::kFloat64: case torch::kInt64: case torch::kInt32: case torch::kUInt8: return;
    default:
      throw Error(fmt::format("{}: unsupported dtype {}; supported: float32, float64, int64, int32, uint8", op,
                              dtype_name(t.scalar_type())));
  }
}

void check_tensor(const torch::Tensor& t, const char* op) {
  check_dense(t, op);
  if (!t.is_contiguous())
    throw Error(fmt::format("{}: tensor {} with strides [{}] is not contiguous; pass tensor.contiguous()", op,
                            shape_string(t), fmt::join(t.strides(), ", ")));
}

void check_rank(int peer, int size, const char* op, const char* what) {
  if (peer < 0 || peer >= size) throw Error(fmt::format("{}: {} {} is out of range for {} ranks", op, what, peer, size));
}

void check_tag(int tag, const char* op) {
  if (tag < 0) throw Error(fmt::format("{}: tag {} is negative", op, tag));
}

void check_scatterable(const torch::Tensor& t, int size, const char* op) {
  if (t.dim() == 0) throw Error(fmt::format("{}: a 0-dim tensor has no first dimension to split across ranks", op));
  if (t.size(0) % size != 0)
    throw Error(fmt::format("{}: first dimension of {} is not a multiple of the {} ranks", op, shape_string(t), size));
}

const char* op_name(int64_t op) {
  switch (op) {
    case kAllreduce: return "allreduce_sum";
    case kAllreduceFused: return "allreduce_sum_fused";
    case kBroadcast: return "broadcast";
    case kAllgather: return "allgather";
    case kAllgatherv: return "allgatherv";
    case kReduceScatter: return "reduce_scatter_sum";
    case kBarrier: return "barrier";
    case kAllreduceMax: return "allreduce_max";
    case kAnyRankTrue: return "any_rank_failed";
    case kThrowIfAnyFailed: return "throw_if_any_failed";
    case kBroadcastText: return "broadcast_string";
    case kGatherSizes: return "gather_sizes";
    default: return "?";
  }
}

std::string contract_violation(const char* op, const int64_t* first, int r, const int64_t* other) {
  auto describe = [&](const int64_t* a) {
    const std::string type = a[1] < 0 ? "-" : dtype_name(static_cast<torch::ScalarType>(a[1]));
    return fmt::format("{}({}, {} elements, {})", op_name(a[0]), type, a[2], a[3]);
  };
  return fmt::format("{}: ranks break the collective contract: rank 0 called {}, rank {} called {}", op, describe(first),
                     r, describe(other));
}

}  // namespace fedsaf::comm_checks
