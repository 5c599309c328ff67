#pragma once
// The argument checks every Communicator implementation makes, so that a bad tensor, rank or tag
// gets the same fedsaf::Error whichever implementation runs (see mpi/communicator.hpp, TENSORS).
#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace fedsaf::comm_checks {

std::string dtype_name(torch::ScalarType t);      // "float32", ...; torch's name for others
std::string shape_string(const torch::Tensor& t);  // "[2, 3]"

// Defined, dense, on the CPU or a CUDA device, of a supported dtype (contiguity not checked).
void check_dense(const torch::Tensor& t, const char* op);
// check_dense, and contiguous.
void check_tensor(const torch::Tensor& t, const char* op);
void check_rank(int peer, int size, const char* op, const char* what);
void check_tag(int tag, const char* op);
// reduce_scatter_sum's input: at least one dimension, the first a multiple of size.
void check_scatterable(const torch::Tensor& t, int size, const char* op);

// Operation ids of the consistency check (they travel between ranks) and their names.
enum Op : int {
  kAllreduce = 1, kAllreduceFused, kBroadcast, kAllgather, kAllgatherv, kReduceScatter, kBarrier, kAllreduceMax,
  // the bookkeeping calls (checked by the in-process implementation only)
  kAnyRankTrue, kThrowIfAnyFailed, kBroadcastText, kGatherSizes
};
const char* op_name(int64_t op);
// "op: ranks break the collective contract: rank 0 called ..., rank r called ..." for two
// (operation id, dtype or -1, elements, extra) records.
std::string contract_violation(const char* op, const int64_t* first, int r, const int64_t* other);

}  // namespace fedsaf::comm_checks
