#pragma once
// The interface of typed, validated tensor collectives (the c10d / Horovod idea), and what every
// implementation shares: the Request handle and the byte counters. Two implementations:
//   MpiCommunicator (mpi/mpi_communicator.hpp)        a private duplicate of an MPI communicator;
//                                                     what fedsaf runs on.
//   InProcessCommunicator (mpi/in_process_communicator.hpp)  N ranks as N threads of one process
//                                                     (as c10d's fake process group), for tests of
//                                                     engine and algorithm logic without mpirun.
// Code outside mpi/ and io/ sees only this interface; parallel HDF5, which needs the MPI handle,
// gets it through mpi_handle() (mpi/mpi_communicator.hpp).
//
// CONTRACT. Every rank of the communicator calls the collectives (allreduce_sum, allreduce_max,
// allreduce_sum_fused, broadcast, allgather, allgatherv, reduce_scatter_sum, barrier, and the
// constructor) in the same order, with tensors of the same dtype and, except for allgatherv, the
// same number of elements (and the same root for broadcast, the same tensor count and dtypes for
// the fused all-reduce). Point-to-point calls pair up: a send of N elements of a dtype with a
// receive of N elements of that dtype, same tag. Breaking the contract hangs or corrupts the run;
// with consistency checks on (set_check_consistency(true) or FEDSAF_MPI_CHECKS=1 in the
// environment) each collective first compares (operation, dtype, size) across ranks and throws an
// Error naming both sides instead (the in-process implementation always checks: it costs nothing).
//
// TENSORS. Dense CPU or CUDA tensors of dtype float32, float64, int64, int32 or uint8, contiguous
// (the fused all-reduce also takes non-contiguous ones, since it copies anyway). Anything else
// throws fedsaf::Error naming the operation and the problem. "In place" operations write the
// result into the tensor's own storage; the const Tensor& parameter is a handle, as in torch's own
// in-place ops. A CUDA tensor is staged: copied into pinned host memory, communicated, and copied
// back; with set_cuda_aware(true) its device memory goes to MPI directly (after the device has
// finished writing it), which needs an MPI built with CUDA support (mpi_cuda_aware()). The
// in-process implementation copies through host memory whatever the switch says.
//
// SIZES. One call may move more than INT_MAX elements: buffers are split into pieces of at most
// max_elements_per_call() elements (INT_MAX unless a test lowers it), one MPI call per piece (the
// in-process implementation has no such limit and ignores it).
//
// ERRORS. MPI: the duplicated communicator has MPI_ERRORS_RETURN; a failing MPI call throws
// MpiError naming the operation, the MPI call and MPI's error text. Such an error is usually seen
// by one rank only: let it reach run_guarded() (mpi/environment.hpp), which aborts the job.
// In-process: a rank (thread) that throws poisons the group, and every call waiting on it throws.
//
// BYTE COUNTERS ("payload bytes" per rank, counted from the buffers handed to MPI; not wire bytes,
// which depend on the algorithm MPI picks). For a message of B bytes on this rank:
//   allreduce (sum, max, fused)  sent B, received B (the fused call counts all its tensors)
//   broadcast                root: sent B; every other rank: received B
//   allgather, allgatherv    sent = own contribution; received = the whole result (own part too)
//   reduce_scatter           sent = the whole input; received = this rank's block
//   sendrecv                 send/isend: sent B; recv/irecv: received B (counted when posted)
// calls: one per Communicator call, however many MPI calls it makes (chunks, fusion). The size
// exchange of allgatherv, the consistency checks and the bookkeeping calls (error agreement,
// gather_sizes) are not counted. Both implementations count by this model.
// OFF-NODE SHARE (bytes_*_off_node, part of the totals above): the payload exchanged with ranks
// on other nodes (node = the ranks sharing memory, MPI_COMM_TYPE_SHARED). Exact where the peer
// is known: a send or receive counts when its peer is on another node; a gather's received part
// counts the contributions of ranks on other nodes; a broadcast counts on a non-root rank when
// the root is elsewhere, and on the root when any rank is. Its own contribution to a gather
// counts when any rank is elsewhere. A reduction (allreduce, reduce_scatter) mixes every rank's
// data, so it is modelled: B × (ranks on other nodes) / (R − 1), the share of this rank's peers
// that are elsewhere (what MPI's algorithm actually sends across depends on it: a node-aware one
// sends less; docs/results/multinode.md compares with the bytes on the wire).
//
// THREADS. One communicator is used by one thread. MPI: only the thread that initialised MPI may
// call (MPI_THREAD_FUNNELED). In-process: each rank's thread uses its own communicator.
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mpi/environment.hpp"  // the error agreement over a Communicator, for its users

namespace fedsaf {

enum class CommKind { allreduce, broadcast, allgather, sendrecv, reduce_scatter };
const char* comm_kind_name(CommKind kind);  // "allreduce", "broadcast", ...

struct CommStats {
  int64_t bytes_sent = 0;      // payload bytes, see the model above
  int64_t bytes_received = 0;  // payload bytes, see the model above
  int64_t bytes_sent_off_node = 0;      // the part of bytes_sent exchanged with other nodes
  int64_t bytes_received_off_node = 0;  // the part of bytes_received from other nodes
  int64_t calls = 0;           // Communicator calls
};

// Result of allgatherv.
struct Gathered {
  torch::Tensor data;           // [sum_r rows_r, *rest]: every rank's tensor, rank 0 first
  std::vector<int64_t> counts;  // [R]: rows (first-dimension entries) each rank contributed
};

// A pending isend/irecv. Move-only. wait() blocks until done (and, for an irecv into a CUDA tensor,
// copies the data into it); test() polls. The destructor of a request still pending waits for it,
// so nothing touches a freed buffer, except while an exception unwinds the stack: then it
// cancels a pending receive and releases a pending send without waiting (keeping the send buffer
// alive on purpose), so an error on this rank cannot hang here on a peer that will never answer.
// If that destructor's wait fails it calls fatal(): destructors never throw.
class Request {
 public:
  // One implementation's pending operation; its destructor follows the rules above.
  class Pending {
   public:
    virtual ~Pending() = default;
    virtual void wait() = 0;
    virtual bool test() = 0;
    virtual bool pending() const = 0;
  };

  Request() = default;
  explicit Request(std::unique_ptr<Pending> pending) : pending_(std::move(pending)) {}
  Request(Request&& other) noexcept = default;
  Request& operator=(Request&& other) noexcept;  // completes this request's pending work first
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
  ~Request() = default;

  void wait() { if (pending_) pending_->wait(); }  // throws MpiError, or Error when a receive got a different element count
  bool test() { return pending_ == nullptr || pending_->test(); }  // true once complete (and finished as wait() would)
  bool pending() const { return pending_ != nullptr && pending_->pending(); }

 private:
  std::unique_ptr<Pending> pending_;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }  // among this communicator's ranks on the node
  int local_size() const { return local_size_; }
  int node_of(int rank) const { return node_of_rank_.at(static_cast<size_t>(rank)); }  // 0-based, in rank order
  int node_count() const { return node_count_; }

  // ---- collectives (see CONTRACT) ----
  // Element-wise sum over ranks, in place.
  virtual void allreduce_sum(const torch::Tensor& tensor) = 0;
  // Element-wise maximum over ranks, in place (exact: the result does not depend on rank order).
  virtual void allreduce_max(const torch::Tensor& tensor) = 0;
  // Sums every tensor over ranks in place with one reduction per dtype present: the tensors are
  // packed into one buffer per dtype (in order of first appearance), reduced, and unpacked.
  virtual void allreduce_sum_fused(const std::vector<torch::Tensor>& tensors) = 0;
  // Copies root's tensor into every rank's tensor, in place.
  virtual void broadcast(const torch::Tensor& tensor, int root) = 0;
  // [*S] on every rank -> [R, *S]: row r is rank r's tensor.
  virtual torch::Tensor allgather(const torch::Tensor& tensor) = 0;
  // [n_r, *rest] on rank r (n_r may differ; rest and dtype must not) -> [sum n_r, *rest] plus
  // the counts. A 0-dim tensor counts as one row.
  virtual Gathered allgatherv(const torch::Tensor& tensor) = 0;
  // [R*m, *rest] on every rank -> [m, *rest]: rank r gets block r of the element-wise sum.
  virtual torch::Tensor reduce_scatter_sum(const torch::Tensor& tensor) = 0;
  virtual void barrier() = 0;

  // ---- point to point (blocking, then non-blocking) ----
  virtual void send(const torch::Tensor& tensor, int dest, int tag = 0) = 0;
  virtual void recv(const torch::Tensor& tensor, int source, int tag = 0) = 0;  // in place; sizes must match
  virtual Request isend(const torch::Tensor& tensor, int dest, int tag = 0) = 0;
  virtual Request irecv(const torch::Tensor& tensor, int source, int tag = 0) = 0;

  // ---- bookkeeping: collective, not counted (error agreement, file layout; mpi/environment.hpp) ----
  // True on every rank when any rank passed true.
  virtual bool any_rank_true(bool local) = 0;
  // Every rank's error text ("" = fine); see throw_if_any_failed in mpi/environment.hpp.
  virtual void throw_if_any_failed(const std::string& local_error) = 0;
  // Root's text on every rank.
  virtual std::string broadcast_text(const std::string& text, int root) = 0;
  // [R]: every rank's n, rank 0 first.
  virtual std::vector<int64_t> gather_sizes(int64_t n) = 0;

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

 protected:
  Communicator();  // counters at zero; checks from FEDSAF_MPI_CHECKS
  Communicator(Communicator&& other) noexcept = default;
  Communicator& operator=(Communicator&& other) noexcept = default;
  // node_of_rank: [size] each rank's node, numbered 0, 1, ... in order of first appearance.
  void set_layout(int rank, const std::vector<int>& node_of_rank);
  // Count one call by the model above (sizes in bytes).
  void count_reduction(CommKind kind, int64_t sent, int64_t received);  // allreduce*, reduce_scatter
  void count_broadcast(int root, int64_t bytes);
  void count_gather(int64_t sent, const std::vector<int64_t>& received_from);  // [R] bytes from each rank
  void count_send(int dest, int64_t bytes);
  void count_receive(int source, int64_t bytes);

 private:
  void count(CommKind kind, int64_t sent, int64_t received, int64_t sent_off_node, int64_t received_off_node);
  bool off_node(int peer) const { return node_of(peer) != node_of(rank_); }
  int64_t ranks_off_node() const { return size_ - local_size_; }

  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1, node_count_ = 1;
  std::vector<int> node_of_rank_{0};  // [size]
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
