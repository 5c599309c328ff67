#pragma once
// Typed, validated tensor collectives over a private MPI communicator (the c10d / Horovod idea).
//
// CONTRACT. Every rank of the communicator calls the collectives (allreduce_sum, allreduce_max,
// allreduce_sum_fused, broadcast, allgather, allgatherv, reduce_scatter_sum, barrier, and the
// constructor) in the same order, with tensors of the same dtype and, except for allgatherv, the
// same number of elements (and the same root for broadcast, the same tensor count and dtypes for
// the fused all-reduce). Point-to-point calls pair up: a send of N elements of a dtype with a
// receive of N elements of that dtype, same tag. Breaking the contract hangs or corrupts the run;
// with consistency checks on (set_check_consistency(true) or FEDSAF_MPI_CHECKS=1 in the
// environment) each collective first compares (operation, dtype, size) across ranks and throws an
// Error naming both sides instead.
//
// TENSORS. Dense CPU or CUDA tensors of dtype float32, float64, int64, int32 or uint8, contiguous
// (the fused all-reduce also takes non-contiguous ones, since it copies anyway). Anything else
// throws fedsaf::Error naming the operation and the problem. "In place" operations write the
// result into the tensor's own storage; the const Tensor& parameter is a handle, as in torch's own
// in-place ops. A CUDA tensor is staged: copied into pinned host memory, communicated, and copied
// back; with set_cuda_aware(true) its device memory goes to MPI directly (after the device has
// finished writing it), which needs an MPI built with CUDA support (mpi_cuda_aware()).
//
// SIZES. One call may move more than INT_MAX elements: buffers are split into pieces of at most
// max_elements_per_call() elements (INT_MAX unless a test lowers it), one MPI call per piece.
//
// ERRORS. The duplicated communicator has MPI_ERRORS_RETURN; a failing MPI call throws MpiError
// naming the operation, the MPI call and MPI's error text. Such an error is usually seen by one
// rank only: let it reach run_guarded() (mpi/environment.hpp), which aborts the job.
//
// BYTE COUNTERS ("payload bytes" per rank, counted from the buffers handed to MPI; not wire bytes,
// which depend on the algorithm MPI picks). For a message of B bytes on this rank:
//   allreduce (sum, max, fused)  sent B, received B (the fused call counts all its tensors)
//   broadcast                root: sent B; every other rank: received B
//   allgather, allgatherv    sent = own contribution; received = the whole result (own part too)
//   reduce_scatter           sent = the whole input; received = this rank's block
//   sendrecv                 send/isend: sent B; recv/irecv: received B (counted when posted)
// calls: one per Communicator call, however many MPI calls it makes (chunks, fusion). The size
// exchange of allgatherv and the consistency checks are bookkeeping and are not counted.
//
// THREADS. Only the thread that initialised MPI may call (MPI_THREAD_FUNNELED).
#include <mpi.h>
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mpi/environment.hpp"

namespace fedsaf {

enum class CommKind { allreduce, broadcast, allgather, sendrecv, reduce_scatter };
const char* comm_kind_name(CommKind kind);  // "allreduce", "broadcast", ...

struct CommStats {
  int64_t bytes_sent = 0;      // payload bytes, see the model above
  int64_t bytes_received = 0;  // payload bytes, see the model above
  int64_t calls = 0;           // Communicator calls
};

// Result of allgatherv.
struct Gathered {
  torch::Tensor data;           // [sum_r rows_r, *rest]: every rank's tensor, rank 0 first
  std::vector<int64_t> counts;  // [R]: rows (first-dimension entries) each rank contributed
};

// A pending isend/irecv. Move-only. wait() blocks until done (and, for an irecv into a CUDA tensor,
// copies the data into it); test() polls. The destructor of a request still pending waits for it,
// so MPI never touches a freed buffer, except while an exception unwinds the stack: then it
// cancels a pending receive and releases a pending send without waiting (keeping the send buffer
// alive on purpose), so an error on this rank cannot hang here on a peer that will never answer.
// If that destructor's wait fails it calls fatal(): destructors never throw.
class Request {
 public:
  Request() = default;
  Request(Request&& other) noexcept;
  Request& operator=(Request&& other) noexcept;  // completes this request's pending work first
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
  ~Request();

  void wait();          // throws MpiError, or Error when a receive got a different element count
  bool test();          // true once complete (and finished as wait() would)
  bool pending() const { return !requests_.empty(); }

 private:
  friend class Communicator;
  void finish(const std::vector<MPI_Status>& statuses);
  void abandon() noexcept;
  void complete_or_die() noexcept;

  std::vector<MPI_Request> requests_;  // one per chunk
  std::vector<int> expected_;          // per chunk: elements a receive expects
  torch::Tensor buffer_;               // host memory MPI reads or writes; kept alive until done
  torch::Tensor target_;               // irecv into a CUDA tensor: where buffer_ goes after wait
  MPI_Datatype type_ = MPI_DATATYPE_NULL;
  bool receive_ = false;
  std::string what_;                   // "irecv from rank 3 (tag 0)", for messages
};

class Communicator {
 public:
  // Duplicates comm (collective over comm) and sets MPI_ERRORS_RETURN on the copy.
  explicit Communicator(MPI_Comm comm = MPI_COMM_WORLD);
  ~Communicator();  // frees the duplicate (unless MPI is already finalised)
  Communicator(Communicator&& other) noexcept;
  Communicator& operator=(Communicator&& other) noexcept;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }  // among this communicator's ranks on the node
  int local_size() const { return local_size_; }
  MPI_Comm raw() const { return comm_; }          // the duplicate, e.g. for parallel HDF5

  // ---- collectives (see CONTRACT) ----
  // Element-wise sum over ranks, in place.
  void allreduce_sum(const torch::Tensor& tensor);
  // Element-wise maximum over ranks, in place (exact: the result does not depend on rank order).
  void allreduce_max(const torch::Tensor& tensor);
  // Sums every tensor over ranks in place with one MPI call per dtype present: the tensors are
  // packed into one buffer per dtype (in order of first appearance), reduced, and unpacked.
  void allreduce_sum_fused(const std::vector<torch::Tensor>& tensors);
  // Copies root's tensor into every rank's tensor, in place.
  void broadcast(const torch::Tensor& tensor, int root);
  // [*S] on every rank -> [R, *S]: row r is rank r's tensor.
  torch::Tensor allgather(const torch::Tensor& tensor);
  // [n_r, *rest] on rank r (n_r may differ; rest and dtype must not) -> [sum n_r, *rest] plus
  // the counts. A 0-dim tensor counts as one row.
  Gathered allgatherv(const torch::Tensor& tensor);
  // [R*m, *rest] on every rank -> [m, *rest]: rank r gets block r of the element-wise sum.
  torch::Tensor reduce_scatter_sum(const torch::Tensor& tensor);
  void barrier();

  // ---- point to point (blocking, then non-blocking) ----
  void send(const torch::Tensor& tensor, int dest, int tag = 0);
  void recv(const torch::Tensor& tensor, int source, int tag = 0);  // in place; sizes must match
  Request isend(const torch::Tensor& tensor, int dest, int tag = 0);
  Request irecv(const torch::Tensor& tensor, int source, int tag = 0);

  // ---- byte counters ----
  const std::map<CommKind, CommStats>& stats() const { return stats_; }  // every kind present
  const CommStats& stats(CommKind kind) const { return stats_.at(kind); }
  CommStats total_stats() const;  // summed over kinds
  void reset_stats();

  // Every collective first checks (operation, dtype, size, root) agree across ranks: one extra
  // small all-gather per call. Off unless FEDSAF_MPI_CHECKS=1 is set when the Communicator is made.
  void set_check_consistency(bool on) { checks_ = on; }
  bool check_consistency() const { return checks_; }

  // CUDA tensors: hand device memory to MPI directly (true) or stage through pinned host buffers
  // (false, the default). Must be the same on every rank.
  void set_cuda_aware(bool on) { cuda_aware_ = on; }
  bool cuda_aware() const { return cuda_aware_; }

  // Largest element count passed to one MPI call (default INT_MAX). Process-wide; tests lower it
  // to exercise the chunked paths. Must be the same on every rank. Throws Error unless
  // 1 <= n <= INT_MAX.
  static void set_max_elements_per_call(int64_t n);
  static int64_t max_elements_per_call();

 private:
  void verify(const char* op, int op_id, int64_t dtype, int64_t numel, int64_t extra);
  void count(CommKind kind, int64_t sent, int64_t received);
  void reduce_in_place(const torch::Tensor& host, MPI_Datatype type, MPI_Op reduction, const char* op);
  void allreduce(const torch::Tensor& tensor, MPI_Op reduction, int op_id, const char* op);
  // The buffer MPI reads `t` from: t itself (CPU, or CUDA-aware MPI), else a pinned host copy.
  torch::Tensor staged(const torch::Tensor& t) const;
  // A buffer MPI may write `t`'s result into: t itself (CPU, CUDA-aware), else pinned host memory.
  torch::Tensor landing(const torch::Tensor& t) const;

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  bool checks_ = false;
  bool cuda_aware_ = false;
  std::map<CommKind, CommStats> stats_;
};

// Whether this MPI library takes CUDA device pointers (Open MPI's MPIX_Query_cuda_support at run
// time; false for builds and libraries without that extension).
bool mpi_cuda_aware();
// run.cuda_aware_mpi → Communicator::set_cuda_aware: "auto" = mpi_cuda_aware(), "on" = true
// (ConfigError when MPI lacks CUDA support), "off" = false.
bool cuda_aware_wanted(const std::string& mode);

}  // namespace fedsaf
