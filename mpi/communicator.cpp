#include "mpi/communicator.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join ({fmt} ≥ 11 moved it here)

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <exception>
#include <utility>

#include "core/error_text.hpp"

#if defined(OPEN_MPI) && OPEN_MPI
#include <mpi-ext.h>  // MPIX_Query_cuda_support
#endif

namespace fedsaf {
namespace {

std::atomic<int64_t> g_max_per_call{INT_MAX};

// Operation ids for the consistency check (values travel between ranks).
enum Op : int {
  kAllreduce = 1, kAllreduceFused, kBroadcast, kAllgather, kAllgatherv, kReduceScatter, kBarrier, kAllreduceMax
};
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
    default: return "?";
  }
}

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

std::string shape_string(const torch::Tensor& t) {
  return fmt::format("[{}]", fmt::join(t.sizes(), ", "));
}

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
  if (!t.defined()) throw Error(fmt::format("{}: tensor is undefined", op));
  if (t.layout() != torch::kStrided) throw Error(fmt::format("{}: tensor is not dense (layout {})", op, c10::toString(t.layout())));
  if (!t.is_cpu() && !t.is_cuda())
    throw Error(fmt::format("{}: tensor is on device {}; only CPU and CUDA tensors are supported", op, t.device().str()));
  return mpi_type(t.scalar_type(), op);
}

MPI_Datatype checked(const torch::Tensor& t, const char* op) {
  const MPI_Datatype type = checked_dense(t, op);
  if (!t.is_contiguous())
    throw Error(fmt::format("{}: tensor {} with strides [{}] is not contiguous; pass tensor.contiguous()", op,
                            shape_string(t), fmt::join(t.strides(), ", ")));
  return type;
}

void check_rank(int peer, int size, const char* op, const char* what) {
  if (peer < 0 || peer >= size) throw Error(fmt::format("{}: {} {} is out of range for {} ranks", op, what, peer, size));
}

void check_tag(int tag, const char* op) {
  if (tag < 0) throw Error(fmt::format("{}: tag {} is negative", op, tag));
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
  const int64_t limit = g_max_per_call.load();
  int64_t offset = 0;
  do {
    const int64_t c = std::min(limit, n - offset);
    f(offset, static_cast<int>(c));
    offset += c;
  } while (offset < n);
}

}  // namespace

const char* comm_kind_name(CommKind kind) {
  switch (kind) {
    case CommKind::allreduce: return "allreduce";
    case CommKind::broadcast: return "broadcast";
    case CommKind::allgather: return "allgather";
    case CommKind::sendrecv: return "sendrecv";
    case CommKind::reduce_scatter: return "reduce_scatter";
  }
  return "?";
}

// ---- Request ------------------------------------------------------------------------------------

Request::Request(Request&& other) noexcept
    : requests_(std::move(other.requests_)),
      expected_(std::move(other.expected_)),
      buffer_(std::move(other.buffer_)),
      target_(std::move(other.target_)),
      type_(other.type_),
      receive_(other.receive_),
      what_(std::move(other.what_)) {
  other.requests_.clear();
}

Request& Request::operator=(Request&& other) noexcept {
  if (this != &other) {
    complete_or_die();
    requests_ = std::move(other.requests_);
    expected_ = std::move(other.expected_);
    buffer_ = std::move(other.buffer_);
    target_ = std::move(other.target_);
    type_ = other.type_;
    receive_ = other.receive_;
    what_ = std::move(other.what_);
    other.requests_.clear();
  }
  return *this;
}

Request::~Request() {
  if (requests_.empty()) return;
  if (std::uncaught_exceptions() > 0) {
    abandon();
  } else {
    complete_or_die();
  }
}

void Request::complete_or_die() noexcept {
  if (requests_.empty()) return;
  try {
    wait();
  } catch (const std::exception& e) {
    fatal(error_text(e));
  }
}

void Request::abandon() noexcept {
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

void Request::wait() {
  if (requests_.empty()) return;
  std::vector<MPI_Status> statuses(requests_.size());
  const int rc = MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), statuses.data());
  requests_.clear();  // Waitall completed (or failed) every request; nothing to cancel later
  check_mpi(rc, what_.c_str(), "MPI_Waitall");
  finish(statuses);
}

bool Request::test() {
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

void Request::finish(const std::vector<MPI_Status>& statuses) {
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

// ---- Communicator: lifetime -----------------------------------------------------------------------

Communicator::Communicator(MPI_Comm comm) {
  check_mpi(MPI_Comm_dup(comm, &comm_), "Communicator", "MPI_Comm_dup");
  // Errors on our communicator come back as codes and become exceptions, instead of aborting.
  check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "Communicator", "MPI_Comm_set_errhandler");
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  const NodeLayout node = node_layout(comm_);
  local_rank_ = node.local_rank;
  local_size_ = node.local_size;
  const char* env = std::getenv("FEDSAF_MPI_CHECKS");
  checks_ = env != nullptr && std::string(env) == "1";
  reset_stats();
}

Communicator::~Communicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (comm_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm_);
}

Communicator::Communicator(Communicator&& other) noexcept
    : comm_(other.comm_),
      rank_(other.rank_),
      size_(other.size_),
      local_rank_(other.local_rank_),
      local_size_(other.local_size_),
      checks_(other.checks_),
      stats_(std::move(other.stats_)) {
  other.comm_ = MPI_COMM_NULL;
}

Communicator& Communicator::operator=(Communicator&& other) noexcept {
  if (this != &other) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (comm_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm_);
    comm_ = std::exchange(other.comm_, MPI_COMM_NULL);
    rank_ = other.rank_;
    size_ = other.size_;
    local_rank_ = other.local_rank_;
    local_size_ = other.local_size_;
    checks_ = other.checks_;
    stats_ = std::move(other.stats_);
  }
  return *this;
}

void Communicator::set_max_elements_per_call(int64_t n) {
  if (n < 1 || n > INT_MAX)
    throw Error(fmt::format("Communicator::set_max_elements_per_call: {} is outside [1, {}]", n, INT_MAX));
  g_max_per_call.store(n);
}

int64_t Communicator::max_elements_per_call() { return g_max_per_call.load(); }

// ---- counters and checks ---------------------------------------------------------------------------

void Communicator::count(CommKind kind, int64_t sent, int64_t received) {
  CommStats& s = stats_[kind];
  s.bytes_sent += sent;
  s.bytes_received += received;
  s.calls += 1;
}

CommStats Communicator::total_stats() const {
  CommStats total;
  for (const auto& [kind, s] : stats_) {
    total.bytes_sent += s.bytes_sent;
    total.bytes_received += s.bytes_received;
    total.calls += s.calls;
  }
  return total;
}

void Communicator::reset_stats() {
  for (CommKind kind : {CommKind::allreduce, CommKind::broadcast, CommKind::allgather, CommKind::sendrecv,
                        CommKind::reduce_scatter})
    stats_[kind] = CommStats{};
}

void Communicator::verify(const char* op, int op_id, int64_t dtype, int64_t numel, int64_t extra) {
  if (!checks_) return;
  const int64_t mine[4] = {op_id, dtype, numel, extra};
  std::vector<int64_t> all(4 * static_cast<size_t>(size_));  // [R, 4]
  check_mpi(MPI_Allgather(mine, 4, MPI_INT64_T, all.data(), 4, MPI_INT64_T, comm_), op, "MPI_Allgather");
  auto describe = [&](int r) {
    const int64_t* a = &all[4 * static_cast<size_t>(r)];
    const std::string type = a[1] < 0 ? "-" : dtype_name(static_cast<torch::ScalarType>(a[1]));
    return fmt::format("{}({}, {} elements, {})", op_name(a[0]), type, a[2], a[3]);
  };
  for (int r = 1; r < size_; ++r)
    if (!std::equal(all.begin(), all.begin() + 4, all.begin() + 4 * r))
      throw Error(fmt::format("{}: ranks break the collective contract: rank 0 called {}, rank {} called {}", op,
                              describe(0), r, describe(r)));
}

// ---- collectives ---------------------------------------------------------------------------------

void Communicator::reduce_in_place(const torch::Tensor& host, MPI_Datatype type, MPI_Op reduction, const char* op) {
  char* base = bytes_of(host);
  const int64_t esize = host.element_size();
  for_chunks(host.numel(), [&](int64_t offset, int n) {
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, base + offset * esize, n, type, reduction, comm_), op, "MPI_Allreduce");
  });
}

torch::Tensor Communicator::landing(const torch::Tensor& t) const {
  if (t.is_cpu()) return t;
  if (cuda_aware_) {
    torch::cuda::synchronize(t.device().index());  // MPI knows no CUDA stream: the data must be ready
    return t;
  }
  return torch::empty(t.sizes(), t.options().device(torch::kCPU).pinned_memory(true));  // [as t]
}

torch::Tensor Communicator::staged(const torch::Tensor& t) const {
  torch::Tensor buffer = landing(t);
  copy_back(buffer, t);  // device → pinned host (nothing when MPI reads t itself)
  return buffer;
}

void Communicator::allreduce_sum(const torch::Tensor& tensor) { allreduce(tensor, MPI_SUM, kAllreduce, "allreduce_sum"); }

void Communicator::allreduce_max(const torch::Tensor& tensor) { allreduce(tensor, MPI_MAX, kAllreduceMax, "allreduce_max"); }

void Communicator::allreduce(const torch::Tensor& tensor, MPI_Op reduction, int op_id, const char* op) {
  const MPI_Datatype type = checked(tensor, op);
  verify(op, op_id, static_cast<int64_t>(tensor.scalar_type()), tensor.numel(), 0);
  const torch::Tensor host = staged(tensor);  // same shape as tensor
  reduce_in_place(host, type, reduction, op);
  copy_back(tensor, host);
  const int64_t bytes = tensor.numel() * tensor.element_size();
  count(CommKind::allreduce, bytes, bytes);
}

void Communicator::allreduce_sum_fused(const std::vector<torch::Tensor>& tensors) {
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
  count(CommKind::allreduce, bytes, bytes);
}

void Communicator::broadcast(const torch::Tensor& tensor, int root) {
  const char* op = "broadcast";
  const MPI_Datatype type = checked(tensor, op);
  check_rank(root, size_, op, "root");
  verify(op, kBroadcast, static_cast<int64_t>(tensor.scalar_type()), tensor.numel(), root);
  const torch::Tensor host = staged(tensor);  // same shape as tensor
  char* base = bytes_of(host);
  const int64_t esize = host.element_size();
  for_chunks(host.numel(), [&](int64_t offset, int n) {
    check_mpi(MPI_Bcast(base + offset * esize, n, type, root, comm_), op, "MPI_Bcast");
  });
  if (rank_ != root) copy_back(tensor, host);
  const int64_t bytes = tensor.numel() * esize;
  count(CommKind::broadcast, rank_ == root ? bytes : 0, rank_ == root ? 0 : bytes);
}

torch::Tensor Communicator::allgather(const torch::Tensor& tensor) {
  const char* op = "allgather";
  const MPI_Datatype type = checked(tensor, op);
  verify(op, kAllgather, static_cast<int64_t>(tensor.scalar_type()), tensor.numel(), 0);
  const torch::Tensor host = staged(tensor);  // [*S]
  const int64_t n = host.numel(), esize = host.element_size(), limit = g_max_per_call.load();
  std::vector<int64_t> out_shape{size_};
  out_shape.insert(out_shape.end(), tensor.sizes().begin(), tensor.sizes().end());
  torch::Tensor out = torch::empty(out_shape, host.options());  // [R, *S]
  if (n <= limit) {
    check_mpi(MPI_Allgather(bytes_of(host), static_cast<int>(n), type, bytes_of(out), static_cast<int>(n), type, comm_),
              op, "MPI_Allgather");
  } else {
    // Piece by piece: gather elements [offset, offset + c) of every rank into a [R, c] staging
    // buffer, then place them in column range [offset, offset + c) of out viewed as [R, n].
    const torch::Tensor rows = out.view({size_, n});                    // [R, n]
    const torch::Tensor staging = torch::empty({size_ * limit}, host.options());  // [R * limit]
    for_chunks(n, [&](int64_t offset, int c) {
      const torch::Tensor piece = staging.narrow(0, 0, size_ * static_cast<int64_t>(c)).view({size_, c});  // [R, c]
      check_mpi(MPI_Allgather(bytes_of(host) + offset * esize, c, type, bytes_of(piece), c, type, comm_), op,
                "MPI_Allgather");
      rows.narrow(1, offset, c).copy_(piece);
    });
  }
  count(CommKind::allgather, n * esize, size_ * n * esize);
  return tensor.is_cpu() ? out : out.to(tensor.device());
}

Gathered Communicator::allgatherv(const torch::Tensor& tensor) {
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
  std::vector<int64_t> all(4 * static_cast<size_t>(size_));  // [R, 4]
  check_mpi(MPI_Allgather(meta, 4, MPI_INT64_T, all.data(), 4, MPI_INT64_T, comm_), op, "MPI_Allgather");
  Gathered result;
  std::vector<int64_t> counts(static_cast<size_t>(size_)), displs(static_cast<size_t>(size_));  // elements
  int64_t total = 0, largest = 0;
  for (int r = 0; r < size_; ++r) {
    const int64_t* m = &all[4 * static_cast<size_t>(r)];
    if (m[3] != meta[3])
      throw Error(fmt::format("{}: rank {} passed dtype {}, rank {} passed {}", op, rank_, dtype_name(tensor.scalar_type()),
                              r, dtype_name(static_cast<torch::ScalarType>(m[3]))));
    if (m[1] != meta[1] || m[2] != meta[2])
      throw Error(fmt::format("{}: rows differ in shape: rank {} has {} dims of {} elements after the first, rank {} has "
                              "{} dims of {}",
                              op, rank_, meta[2], meta[1], r, m[2], m[1]));
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
  const int64_t esize = host.element_size(), limit = g_max_per_call.load();

  if (total <= limit) {  // every count and displacement fits the limit (so an int)
    std::vector<int> c32(counts.begin(), counts.end()), d32(displs.begin(), displs.end());
    check_mpi(MPI_Allgatherv(bytes_of(host), c32[static_cast<size_t>(rank_)], type, bytes_of(out), c32.data(), d32.data(),
                             type, comm_),
              op, "MPI_Allgatherv");
  } else {
    // Rounds: in round k each rank sends its elements [k*step, (k+1)*step); step is chosen so a
    // round's whole result (at most R*step elements) also respects the limit.
    const int64_t step = std::max<int64_t>(1, limit / size_);
    const int64_t rounds = (largest + step - 1) / step;
    const torch::Tensor flat = out.view({-1});                               // [total]
    const torch::Tensor staging = torch::empty({size_ * step}, host.options());  // [R * step]
    std::vector<int> c32(static_cast<size_t>(size_)), d32(static_cast<size_t>(size_));
    for (int64_t k = 0; k < rounds; ++k) {
      int at = 0;
      for (size_t r = 0; r < c32.size(); ++r) {
        c32[r] = static_cast<int>(std::clamp<int64_t>(counts[r] - k * step, 0, step));
        d32[r] = at;
        at += c32[r];
      }
      const int64_t mine = c32[static_cast<size_t>(rank_)];
      check_mpi(MPI_Allgatherv(bytes_of(host) + (mine > 0 ? k * step * esize : 0), static_cast<int>(mine), type,
                               bytes_of(staging), c32.data(), d32.data(), type, comm_),
                op, "MPI_Allgatherv");
      for (size_t r = 0; r < c32.size(); ++r)
        if (c32[r] > 0) flat.narrow(0, displs[r] + k * step, c32[r]).copy_(staging.narrow(0, d32[r], c32[r]));
    }
  }
  count(CommKind::allgather, host.numel() * esize, total * esize);
  result.data = tensor.is_cpu() ? out : out.to(tensor.device());
  return result;
}

torch::Tensor Communicator::reduce_scatter_sum(const torch::Tensor& tensor) {
  const char* op = "reduce_scatter_sum";
  const MPI_Datatype type = checked(tensor, op);
  if (tensor.dim() == 0) throw Error(fmt::format("{}: a 0-dim tensor has no first dimension to split across ranks", op));
  if (tensor.size(0) % size_ != 0)
    throw Error(fmt::format("{}: first dimension of {} is not a multiple of the {} ranks", op, shape_string(tensor), size_));
  verify(op, kReduceScatter, static_cast<int64_t>(tensor.scalar_type()), tensor.numel(), 0);
  const torch::Tensor host = staged(tensor);  // [R*m, *rest]
  const int64_t block = host.numel() / size_, esize = host.element_size(), limit = g_max_per_call.load();
  std::vector<int64_t> out_shape = tensor.sizes().vec();
  out_shape[0] /= size_;
  torch::Tensor out = torch::empty(out_shape, host.options());  // [m, *rest]
  if (block <= limit) {
    check_mpi(MPI_Reduce_scatter_block(bytes_of(host), bytes_of(out), static_cast<int>(block), type, MPI_SUM, comm_), op,
              "MPI_Reduce_scatter_block");
  } else {
    // Piece by piece: columns [offset, offset + c) of every block, packed contiguously as [R, c].
    const torch::Tensor blocks = host.view({size_, block});  // [R, block]
    for_chunks(block, [&](int64_t offset, int c) {
      const torch::Tensor piece = blocks.narrow(1, offset, c).contiguous();  // [R, c]
      check_mpi(MPI_Reduce_scatter_block(bytes_of(piece), bytes_of(out) + offset * esize, c, type, MPI_SUM, comm_), op,
                "MPI_Reduce_scatter_block");
    });
  }
  count(CommKind::reduce_scatter, host.numel() * esize, block * esize);
  return tensor.is_cpu() ? out : out.to(tensor.device());
}

void Communicator::barrier() {
  verify("barrier", kBarrier, -1, 0, 0);
  check_mpi(MPI_Barrier(comm_), "barrier", "MPI_Barrier");
}

// ---- point to point ------------------------------------------------------------------------------

void Communicator::send(const torch::Tensor& tensor, int dest, int tag) {
  const char* op = "send";
  const MPI_Datatype type = checked(tensor, op);
  check_rank(dest, size_, op, "destination rank");
  check_tag(tag, op);
  const torch::Tensor host = staged(tensor);
  const int64_t esize = host.element_size();
  for_chunks(host.numel(), [&](int64_t offset, int n) {
    check_mpi(MPI_Send(bytes_of(host) + offset * esize, n, type, dest, tag, comm_), op, "MPI_Send");
  });
  count(CommKind::sendrecv, host.numel() * esize, 0);
}

void Communicator::recv(const torch::Tensor& tensor, int source, int tag) {
  const char* op = "recv";
  const MPI_Datatype type = checked(tensor, op);
  check_rank(source, size_, op, "source rank");
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
  count(CommKind::sendrecv, 0, host.numel() * esize);
}

Request Communicator::isend(const torch::Tensor& tensor, int dest, int tag) {
  const char* op = "isend";
  Request request;
  request.type_ = checked(tensor, op);
  check_rank(dest, size_, op, "destination rank");
  check_tag(tag, op);
  request.what_ = fmt::format("isend to rank {} (tag {})", dest, tag);
  request.buffer_ = staged(tensor);  // keeps the data alive until the send completes
  const int64_t esize = request.buffer_.element_size();
  for_chunks(request.buffer_.numel(), [&](int64_t offset, int n) {
    MPI_Request r = MPI_REQUEST_NULL;
    check_mpi(MPI_Isend(bytes_of(request.buffer_) + offset * esize, n, request.type_, dest, tag, comm_, &r), op,
              "MPI_Isend");
    request.requests_.push_back(r);
    request.expected_.push_back(n);
  });
  count(CommKind::sendrecv, request.buffer_.numel() * esize, 0);
  return request;
}

Request Communicator::irecv(const torch::Tensor& tensor, int source, int tag) {
  const char* op = "irecv";
  Request request;
  request.type_ = checked(tensor, op);
  check_rank(source, size_, op, "source rank");
  check_tag(tag, op);
  request.receive_ = true;
  request.what_ = fmt::format("irecv from rank {} (tag {})", source, tag);
  request.buffer_ = landing(tensor);
  if (!request.buffer_.is_same(tensor)) request.target_ = tensor;  // copied there by wait()
  const int64_t esize = request.buffer_.element_size();
  for_chunks(request.buffer_.numel(), [&](int64_t offset, int n) {
    MPI_Request r = MPI_REQUEST_NULL;
    check_mpi(MPI_Irecv(bytes_of(request.buffer_) + offset * esize, n, request.type_, source, tag, comm_, &r), op,
              "MPI_Irecv");
    request.requests_.push_back(r);
    request.expected_.push_back(n);
  });
  count(CommKind::sendrecv, 0, request.buffer_.numel() * esize);
  return request;
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
