// The MPI implementation of Communicator (see mpi/mpi_communicator.hpp).
#include "mpi/mpi_communicator.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join ({fmt} ≥ 11 moved it here)

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <exception>
#include <utility>

#include "core/error_text.hpp"
#include "mpi/tensor_checks.hpp"

#if defined(OPEN_MPI) && OPEN_MPI
#include <mpi-ext.h>  // MPIX_Query_cuda_support
#endif

namespace fedsaf {
namespace {

using namespace comm_checks;

// The MPI type for a supported dtype; throws Error naming op for any other.
MPI_Datatype mpi_type(torch::ScalarType t, const char* op) {
  switch (t) {
    case torch::kFloat32: return MPI_FLOAT;
    case torch::kFloat64: return MPI_DOUBLE;
    case torch::kInt64: return MPI_INT64_T;
    case torch::kInt32: return MPI_INT32_T;
    case torch::kUInt8: return MPI_UINT8_T;
    default:
      throw Error(fmt::format("{}: unsupported dtype {}; supported: float32, float64, int64, int32, uint8",
                              op, dtype_name(t)));
  }
}

// Checks what every tensor argument must satisfy except contiguity; returns its MPI type.
MPI_Datatype checked_dense(const torch::Tensor& t, const char* op) {
  check_dense(t, op);
  return mpi_type(t.scalar_type(), op);
}

MPI_Datatype checked(const torch::Tensor& t, const char* op) {
  check_tensor(t, op);
  return mpi_type(t.scalar_type(), op);
}

// After an in-place operation on a staged buffer: brings the result back into a device tensor.
void copy_back(const torch::Tensor& t, const torch::Tensor& host) {
  if (!host.is_same(t)) t.copy_(host);
}

char* bytes_of(const torch::Tensor& t) { return static_cast<char*>(t.data_ptr()); }

// Calls f(offset, count) over [0, n) in pieces of at most max_elements_per_call(); at least once,
// so a zero-size message still pairs a send with its receive.
template <class F>
void for_chunks(int64_t n, F&& f) {
  const int64_t limit = Communicator::max_elements_per_call();
  int64_t offset = 0;
  do {
    const int64_t c = std::min(limit, n - offset);
    f(offset, static_cast<int>(c));
    offset += c;
  } while (offset < n);
}

}  // namespace

// ---- MpiPending: one isend/irecv's MPI requests (the rules are Request's) ---------------------

class MpiPending final : public Request::Pending {
 public:
  ~MpiPending() override;
  void wait() override;
  bool test() override;
  bool pending() const override { return !requests_.empty(); }

  std::vector<MPI_Request> requests_;  // one per chunk
  std::vector<int> expected_;          // per chunk: elements a receive expects
  torch::Tensor buffer_;               // host memory MPI reads or writes; kept alive until done
  torch::Tensor target_;               // irecv into a CUDA tensor: where buffer_ goes after wait
  MPI_Datatype type_ = MPI_DATATYPE_NULL;
  bool receive_ = false;
  std::string what_;                   // "irecv from rank 3 (tag 0)", for messages

 private:
  void finish(const std::vector<MPI_Status>& statuses);
  void abandon() noexcept;
  void complete_or_die() noexcept;
};

MpiPending::~MpiPending() {
  if (requests_.empty()) return;
  if (std::uncaught_exceptions() > 0) {
    abandon();
  } else {
    complete_or_die();
  }
}

void MpiPending::complete_or_die() noexcept {
  if (requests_.empty()) return;
  try {
    wait();
  } catch (const std::exception& e) {
    fatal(error_text(e));
  }
}

void MpiPending::abandon() noexcept {
  bool released_send = false;
  for (MPI_Request& r : requests_) {
    if (r == MPI_REQUEST_NULL) continue;
    if (receive_) {
      MPI_Cancel(&r);  // a cancelled receive completes locally
      MPI_Wait(&r, MPI_STATUS_IGNORE);
    } else {
      MPI_Request_free(&r);  // the send may still be in flight...
      released_send = true;
    }
  }
  // ...so its buffer must outlive this object: leak one reference (an error path only).
  if (released_send) new torch::Tensor(buffer_);
  requests_.clear();
}

void MpiPending::wait() {
  if (requests_.empty()) return;
  std::vector<MPI_Status> statuses(requests_.size());
  const int rc = MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), statuses.data());
  requests_.clear();  // Waitall completed (or failed) every request; nothing to cancel later
  check_mpi(rc, what_.c_str(), "MPI_Waitall");
  finish(statuses);
}

bool MpiPending::test() {
  if (requests_.empty()) return true;
  std::vector<MPI_Status> statuses(requests_.size());
  int flag = 0;
  const int rc = MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &flag, statuses.data());
  if (rc != MPI_SUCCESS) requests_.clear();
  check_mpi(rc, what_.c_str(), "MPI_Testall");
  if (!flag) return false;
  requests_.clear();
  finish(statuses);
  return true;
}

void MpiPending::finish(const std::vector<MPI_Status>& statuses) {
  if (receive_) {
    for (size_t i = 0; i < statuses.size(); ++i) {
      int got = 0;
      MPI_Status status = statuses[i];
      check_mpi(MPI_Get_count(&status, type_, &got), what_.c_str(), "MPI_Get_count");
      if (got != expected_[i])
        throw Error(fmt::format("{}: expected {} elements, got {} (piece {} of {})", what_, expected_[i], got, i + 1,
                                statuses.size()));
    }
    if (target_.defined()) target_.copy_(buffer_);
  }
  buffer_ = torch::Tensor();
  target_ = torch::Tensor();
}

// ---- MpiCommunicator: lifetime ---------------------------------------------------------------------

MpiCommunicator::MpiCommunicator(MPI_Comm comm) {
  check_mpi(MPI_Comm_dup(comm, &comm_), "Communicator", "MPI_Comm_dup");
  // Errors on our communicator come back as codes and become exceptions, instead of aborting.
  check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "Communicator", "MPI_Comm_set_errhandler");
  int rank = 0, size = 1;
  MPI_Comm_rank(comm_, &rank);
  MPI_Comm_size(comm_, &size);
  set_layout(rank, node_layout(comm_).node_of_rank);
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (comm_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm_);
}

MpiCommunicator::MpiCommunicator(MpiCommunicator&& other) noexcept
    : Communicator(std::move(other)), comm_(std::exchange(other.comm_, MPI_COMM_NULL)) {}

MpiCommunicator& MpiCommunicator::operator=(MpiCommunicator&& other) noexcept {
  if (this != &other) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (comm_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm_);
    MpiCommunicator::operator=(std::move(other));
    comm_ = std::exchange(other.comm_, MPI_COMM_NULL);
  }
  return *this;
}

MPI_Comm mpi_handle(const Communicator& comm, const char* operation) {
  const auto* mpi = dynamic_cast<const MpiCommunicator*>(&comm);
  if (mpi == nullptr)
    throw Error(fmt::format("{}: run files and checkpoints need an MPI communicator (parallel HDF5); this one is not",
                            operation));
  return mpi->raw();
}

// ---- bookkeeping: the MPI_Comm forms of mpi/environment.hpp on the duplicate, uncounted ----------

bool MpiCommunicator::any_rank_true(bool local) { return any_rank_failed(local, comm_); }

void MpiCommunicator::throw_if_any_failed(const std::string& local_error) {
  fedsaf::throw_if_any_failed(local_error, comm_);
}

std::string MpiCommunicator::broadcast_text(const std::string& text, int root) {
  return broadcast_string(text, root, comm_);
}

std::vector<int64_t> MpiCommunicator::gather_sizes(int64_t n) {
  std::vector<int64_t> all(static_cast<size_t>(size()));  // [R]
  check_mpi(MPI_Allgather(&n, 1, MPI_INT64_T, all.data(), 1, MPI_INT64_T, comm_), "gather_sizes", "MPI_Allgather");
  return all;
}

// ---- consistency checks ----------------------------------------------------------------------------

void MpiCommunicator::verify(const char* op, int op_id, int64_t dtype, int64_t numel, int64_t extra) {
  if (!check_consistency()) return;
  const int64_t mine[4] = {op_id, dtype, numel, extra};
  std::vector<int64_t> all(4 * static_cast<size_t>(size()));  // [R, 4]
  check_mpi(MPI_Allgather(mine, 4, MPI_INT64_T, all.data(), 4, MPI_INT64_T, comm_), op, "MPI_Allgather");
  for (int r = 1; r < size(); ++r)
    if (!std::equal(all.begin(), all.begin() + 4, all.begin() + 4 * r))
      throw Error(contract_violation(op, all.data(), r, &all[4 * static_cast<size_t>(r)]));
}

// ---- collectives ---------------------------------------------------------------------------------

void MpiCommunicator::reduce_in_place(const torch::Tensor& host, MPI_Datatype type, MPI_Op reduction, const char* op) {
  char* base = bytes_of(host);
  const int64_t esize = host.element_size();
  for_chunks(host.numel(), [&](int64_t offset, int n) {
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, base + offset * esize, n, type, reduction, comm_), op, "MPI_Allreduce");
  });
}

torch::Tensor MpiCommunicator::landing(const torch::Tensor& t) const {
  if (t.is_cpu()) return t;
  if (cuda_aware()) {
    torch::cuda::synchronize(t.device().index());  // MPI knows no CUDA stream: the data must be ready
    return t;
  }
  return torch::empty(t.sizes(), t.options().device(torch::kCPU).pinned_memory(true));  // [as t]
}

torch::Tensor MpiCommunicator::staged(const torch::Tensor& t) const {
  torch::Tensor buffer = landing(t);
  copy_back(buffer, t);  // device → pinned host (nothing when MPI reads t itself)
  return buffer;
}

void MpiCommunicator::allreduce_sum(const torch::Tensor& tensor) { allreduce(tensor, MPI_SUM, kAllreduce, "allreduce_sum"); }

void MpiCommunicator::allreduce_max(const torch::Tensor& tensor) { allreduce(tensor, MPI_MAX, kAllreduceMax, "allreduce_max"); }

void MpiCommunicator::allreduce(const torch::Tensor& tensor, MPI_Op reduction, int op_id, const char* op) {
  const MPI_Datatype type = checked(tensor, op);
  verify(op, op_id, static_cast<int64_t>(tensor.scalar_type()), tensor.numel(), 0);
  const torch::Tensor host = staged(tensor);  // same shape as tensor
  reduce_in_place(host, type, reduction, op);
  copy_back(tensor, host);
  const int64_t bytes = tensor.numel() * tensor.element_size();
  count_reduction(CommKind::allreduce, bytes, bytes);
}

void MpiCommunicator::allreduce_sum_fused(const std::vector<torch::Tensor>& tensors) {
  const char* op = "allreduce_sum_fused";
  // Group by dtype, in order of first appearance (the same on every rank by the contract).
  std::vector<torch::ScalarType> dtypes;
  std::vector<std::vector<size_t>> groups;  // indices into tensors, per dtype
  int64_t total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    checked_dense(tensors[i], op);  // contiguity not needed: packing copies
    const torch::ScalarType t = tensors[i].scalar_type();
    const auto it = std::find(dtypes.begin(), dtypes.end(), t);
    if (it == dtypes.end()) {
      dtypes.push_back(t);
      groups.push_back({i});
    } else {
      groups[static_cast<size_t>(it - dtypes.begin())].push_back(i);
    }
    total += tensors[i].numel();
  }
  verify(op, kAllreduceFused, dtypes.size() == 1 ? static_cast<int64_t>(dtypes[0]) : -1, total,
         static_cast<int64_t>(tensors.size()));

  int64_t bytes = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    int64_t n = 0;
    for (size_t i : groups[g]) n += tensors[i].numel();
    torch::Tensor buffer = torch::empty({n}, torch::TensorOptions().dtype(dtypes[g]));  // [n] on the CPU
    int64_t offset = 0;
    for (size_t i : groups[g]) {  // pack (copy_ also brings CUDA data to the host)
      const int64_t k = tensors[i].numel();
      buffer.narrow(0, offset, k).copy_(tensors[i].reshape({-1}));
      offset += k;
    }
    reduce_in_place(buffer, mpi_type(dtypes[g], op), MPI_SUM, op);
    offset = 0;
    for (size_t i : groups[g]) {  // unpack into each tensor's own storage, whatever its strides
      const int64_t k = tensors[i].numel();
      tensors[i].copy_(buffer.narrow(0, offset, k).view(tensors[i].sizes()));
      offset += k;
    }
    bytes += n * buffer.element_size();
  }
  count_reduction(CommKind::allreduce, bytes, bytes);
}

void MpiCommunicator::broadcast(const torch::Tensor& tensor, int root) {
  const char* op = "broadcast";
  const MPI_Datatype type = checked(tensor, op);
  check_rank(root, size(), op, "root");
  verify(op, kBroadcast, static_cast<int64_t>(tensor.scalar_type()), tensor.numel(), root);
  const torch::Tensor host = staged(tensor);  // same shape as tensor
  char* base = bytes_of(host);
  const int64_t esize = host.element_size();
  for_chunks(host.numel(), [&](int64_t offset, int n) {
    check_mpi(MPI_Bcast(base + offset * esize, n, type, root, comm_), op, "MPI_Bcast");
  });
  if (rank() != root) copy_back(tensor, host);
  count_broadcast(root, tensor.numel() * esize);
}

torch::Tensor MpiCommunicator::allgather(const torch::Tensor& tensor) {
  const char* op = "allgather";
  const MPI_Datatype type = checked(tensor, op);
  verify(op, kAllgather, static_cast<int64_t>(tensor.scalar_type()), tensor.numel(), 0);
  const torch::Tensor host = staged(tensor);  // [*S]
  const int64_t n = host.numel(), esize = host.element_size(), limit = Communicator::max_elements_per_call();
  std::vector<int64_t> out_shape{size()};
  out_shape.insert(out_shape.end(), tensor.sizes().begin(), tensor.sizes().end());
  torch::Tensor out = torch::empty(out_shape, host.options());  // [R, *S]
  if (n <= limit) {
    check_mpi(MPI_Allgather(bytes_of(host), static_cast<int>(n), type, bytes_of(out), static_cast<int>(n), type, comm_),
              op, "MPI_Allgather");
  } else {
    // Piece by piece: gather elements [offset, offset + c) of every rank into a [R, c] staging
    // buffer, then place them in column range [offset, offset + c) of out viewed as [R, n].
    const torch::Tensor rows = out.view({size(), n});                    // [R, n]
    const torch::Tensor staging = torch::empty({size() * limit}, host.options());  // [R * limit]
    for_chunks(n, [&](int64_t offset, int c) {
      const torch::Tensor piece = staging.narrow(0, 0, size() * static_cast<int64_t>(c)).view({size(), c});  // [R, c]
      check_mpi(MPI_Allgather(bytes_of(host) + offset * esize, c, type, bytes_of(piece), c, type, comm_), op,
                "MPI_Allgather");
      rows.narrow(1, offset, c).copy_(piece);
    });
  }
  count_gather(n * esize, std::vector<int64_t>(static_cast<size_t>(size()), n * esize));
  return tensor.is_cpu() ? out : out.to(tensor.device());
}

Gathered MpiCommunicator::allgatherv(const torch::Tensor& tensor) {
  const char* op = "allgatherv";
  const MPI_Datatype type = checked(tensor, op);
  verify(op, kAllgatherv, static_cast<int64_t>(tensor.scalar_type()), -1, 0);
  const torch::Tensor host = staged(tensor);
  const int64_t rows = tensor.dim() == 0 ? 1 : tensor.size(0);
  const std::vector<int64_t> rest = tensor.dim() == 0 ? std::vector<int64_t>{} : tensor.sizes().slice(1).vec();
  const int64_t row_numel = rows == 0 ? c10::multiply_integers(rest) : tensor.numel() / rows;

  // Everyone's (rows, row_numel, trailing dims, dtype) so sizes and displacements are known and
  // mismatches are caught identically on every rank.
  const int64_t meta[4] = {rows, row_numel, static_cast<int64_t>(rest.size()), static_cast<int64_t>(tensor.scalar_type())};
  std::vector<int64_t> all(4 * static_cast<size_t>(size()));  // [R, 4]
  check_mpi(MPI_Allgather(meta, 4, MPI_INT64_T, all.data(), 4, MPI_INT64_T, comm_), op, "MPI_Allgather");
  Gathered result;
  std::vector<int64_t> counts(static_cast<size_t>(size())), displs(static_cast<size_t>(size()));  // elements
  int64_t total = 0, largest = 0;
  for (int r = 0; r < size(); ++r) {
    const int64_t* m = &all[4 * static_cast<size_t>(r)];
    if (m[3] != meta[3])
      throw Error(fmt::format("{}: rank {} passed dtype {}, rank {} passed {}", op, rank(), dtype_name(tensor.scalar_type()),
                              r, dtype_name(static_cast<torch::ScalarType>(m[3]))));
    if (m[1] != meta[1] || m[2] != meta[2])
      throw Error(fmt::format("{}: rows differ in shape: rank {} has {} dims of {} elements after the first, rank {} has "
                              "{} dims of {}",
                              op, rank(), meta[2], meta[1], r, m[2], m[1]));
    result.counts.push_back(m[0]);
    counts[static_cast<size_t>(r)] = m[0] * row_numel;
    displs[static_cast<size_t>(r)] = total;
    total += counts[static_cast<size_t>(r)];
    largest = std::max(largest, counts[static_cast<size_t>(r)]);
  }
  int64_t total_rows = 0;
  for (int64_t c : result.counts) total_rows += c;
  std::vector<int64_t> out_shape{total_rows};
  out_shape.insert(out_shape.end(), rest.begin(), rest.end());
  torch::Tensor out = torch::empty(out_shape, host.options());  // [sum rows, *rest]
  const int64_t esize = host.element_size(), limit = Communicator::max_elements_per_call();

  if (total <= limit) {  // every count and displacement fits the limit (so an int)
    std::vector<int> c32(counts.begin(), counts.end()), d32(displs.begin(), displs.end());
    // Own rows copied in first, then in place: Open MPI's copy of the own part into a fresh
    // buffer was 3.6× slower than this for 2 × 800 MB (a 100,000-client synthetic data set).
    const int64_t own = counts[static_cast<size_t>(rank())];
    if (own > 0) out.view({-1}).narrow(0, displs[static_cast<size_t>(rank())], own).copy_(host.reshape({-1}));
    check_mpi(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, bytes_of(out), c32.data(), d32.data(), type, comm_),
              op, "MPI_Allgatherv");
  } else {
    // Rounds: in round k each rank sends its elements [k*step, (k+1)*step); step is chosen so a
    // round's whole result (at most R*step elements) also respects the limit.
    const int64_t step = std::max<int64_t>(1, limit / size());
    const int64_t rounds = (largest + step - 1) / step;
    const torch::Tensor flat = out.view({-1});                               // [total]
    const torch::Tensor staging = torch::empty({size() * step}, host.options());  // [R * step]
    std::vector<int> c32(static_cast<size_t>(size())), d32(static_cast<size_t>(size()));
    for (int64_t k = 0; k < rounds; ++k) {
      int at = 0;
      for (size_t r = 0; r < c32.size(); ++r) {
        c32[r] = static_cast<int>(std::clamp<int64_t>(counts[r] - k * step, 0, step));
        d32[r] = at;
        at += c32[r];
      }
      const int64_t mine = c32[static_cast<size_t>(rank())];
      check_mpi(MPI_Allgatherv(bytes_of(host) + (mine > 0 ? k * step * esize : 0), static_cast<int>(mine), type,
                               bytes_of(staging), c32.data(), d32.data(), type, comm_),
                op, "MPI_Allgatherv");
      for (size_t r = 0; r < c32.size(); ++r)
        if (c32[r] > 0) flat.narrow(0, displs[r] + k * step, c32[r]).copy_(staging.narrow(0, d32[r], c32[r]));
    }
  }
  for (int64_t& c : counts) c *= esize;  // elements → bytes
  count_gather(host.numel() * esize, counts);
  result.data = tensor.is_cpu() ? out : out.to(tensor.device());
  return result;
}

torch::Tensor MpiCommunicator::reduce_scatter_sum(const torch::Tensor& tensor) {
  const char* op = "reduce_scatter_sum";
  const MPI_Datatype type = checked(tensor, op);
  if (tensor.dim() == 0) throw Error(fmt::format("{}: a 0-dim tensor has no first dimension to split across ranks", op));
  if (tensor.size(0) % size() != 0)
    throw Error(fmt::format("{}: first dimension of {} is not a multiple of the {} ranks", op, shape_string(tensor), size()));
  verify(op, kReduceScatter, static_cast<int64_t>(tensor.scalar_type()), tensor.numel(), 0);
  const torch::Tensor host = staged(tensor);  // [R*m, *rest]
  const int64_t block = host.numel() / size(), esize = host.element_size(), limit = Communicator::max_elements_per_call();
  std::vector<int64_t> out_shape = tensor.sizes().vec();
  out_shape[0] /= size();
  torch::Tensor out = torch::empty(out_shape, host.options());  // [m, *rest]
  if (block <= limit) {
    check_mpi(MPI_Reduce_scatter_block(bytes_of(host), bytes_of(out), static_cast<int>(block), type, MPI_SUM, comm_), op,
              "MPI_Reduce_scatter_block");
  } else {
    // Piece by piece: columns [offset, offset + c) of every block, packed contiguously as [R, c].
    const torch::Tensor blocks = host.view({size(), block});  // [R, block]
    for_chunks(block, [&](int64_t offset, int c) {
      const torch::Tensor piece = blocks.narrow(1, offset, c).contiguous();  // [R, c]
      check_mpi(MPI_Reduce_scatter_block(bytes_of(piece), bytes_of(out) + offset * esize, c, type, MPI_SUM, comm_), op,
                "MPI_Reduce_scatter_block");
    });
  }
  count_reduction(CommKind::reduce_scatter, host.numel() * esize, block * esize);
  return tensor.is_cpu() ? out : out.to(tensor.device());
}

void MpiCommunicator::barrier() {
  verify("barrier", kBarrier, -1, 0, 0);
  check_mpi(MPI_Barrier(comm_), "barrier", "MPI_Barrier");
}

// ---- point to point ------------------------------------------------------------------------------

void MpiCommunicator::send(const torch::Tensor& tensor, int dest, int tag) {
  const char* op = "send";
  const MPI_Datatype type = checked(tensor, op);
  check_rank(dest, size(), op, "destination rank");
  check_tag(tag, op);
  const torch::Tensor host = staged(tensor);
  const int64_t esize = host.element_size();
  for_chunks(host.numel(), [&](int64_t offset, int n) {
    check_mpi(MPI_Send(bytes_of(host) + offset * esize, n, type, dest, tag, comm_), op, "MPI_Send");
  });
  count_send(dest, host.numel() * esize);
}

void MpiCommunicator::recv(const torch::Tensor& tensor, int source, int tag) {
  const char* op = "recv";
  const MPI_Datatype type = checked(tensor, op);
  check_rank(source, size(), op, "source rank");
  check_tag(tag, op);
  const torch::Tensor host = landing(tensor);
  const int64_t esize = host.element_size();
  for_chunks(host.numel(), [&](int64_t offset, int n) {
    MPI_Status status;
    check_mpi(MPI_Recv(bytes_of(host) + offset * esize, n, type, source, tag, comm_, &status), op, "MPI_Recv");
    int got = 0;
    check_mpi(MPI_Get_count(&status, type, &got), op, "MPI_Get_count");
    if (got != n)
      throw Error(fmt::format("{}: expected {} elements from rank {} (tag {}), got {}", op, n, source, tag, got));
  });
  copy_back(tensor, host);
  count_receive(source, host.numel() * esize);
}

Request MpiCommunicator::isend(const torch::Tensor& tensor, int dest, int tag) {
  const char* op = "isend";
  auto request = std::make_unique<MpiPending>();
  request->type_ = checked(tensor, op);
  check_rank(dest, size(), op, "destination rank");
  check_tag(tag, op);
  request->what_ = fmt::format("isend to rank {} (tag {})", dest, tag);
  request->buffer_ = staged(tensor);  // keeps the data alive until the send completes
  const int64_t esize = request->buffer_.element_size();
  for_chunks(request->buffer_.numel(), [&](int64_t offset, int n) {
    MPI_Request r = MPI_REQUEST_NULL;
    check_mpi(MPI_Isend(bytes_of(request->buffer_) + offset * esize, n, request->type_, dest, tag, comm_, &r), op,
              "MPI_Isend");
    request->requests_.push_back(r);
    request->expected_.push_back(n);
  });
  count_send(dest, request->buffer_.numel() * esize);
  return Request(std::move(request));
}

Request MpiCommunicator::irecv(const torch::Tensor& tensor, int source, int tag) {
  const char* op = "irecv";
  auto request = std::make_unique<MpiPending>();
  request->type_ = checked(tensor, op);
  check_rank(source, size(), op, "source rank");
  check_tag(tag, op);
  request->receive_ = true;
  request->what_ = fmt::format("irecv from rank {} (tag {})", source, tag);
  request->buffer_ = landing(tensor);
  if (!request->buffer_.is_same(tensor)) request->target_ = tensor;  // copied there by wait()
  const int64_t esize = request->buffer_.element_size();
  for_chunks(request->buffer_.numel(), [&](int64_t offset, int n) {
    MPI_Request r = MPI_REQUEST_NULL;
    check_mpi(MPI_Irecv(bytes_of(request->buffer_) + offset * esize, n, request->type_, source, tag, comm_, &r), op,
              "MPI_Irecv");
    request->requests_.push_back(r);
    request->expected_.push_back(n);
  });
  count_receive(source, request->buffer_.numel() * esize);
  return Request(std::move(request));
}

bool mpi_cuda_aware() {
#if defined(OMPI_HAVE_MPI_EXT_CUDA) && OMPI_HAVE_MPI_EXT_CUDA
  return MPIX_Query_cuda_support() == 1;
#else
  return false;
#endif
}

bool cuda_aware_wanted(const std::string& mode) {
  if (mode == "off") return false;
  if (mode == "auto") return mpi_cuda_aware();
  if (mode == "on") {
    if (!mpi_cuda_aware())
      throw ConfigError("run.cuda_aware_mpi = \"on\" but this MPI library reports no CUDA support "
                        "(MPIX_Query_cuda_support); use \"auto\" or \"off\" to stage through host memory");
    return true;
  }
  throw ConfigError(fmt::format("run.cuda_aware_mpi = \"{}\": expected auto, on or off", mode));
}

}  // namespace fedsaf
