// What every Communicator implementation shares: counters, layout, the Request handle, and the
// process-wide per-call limit.
#include "mpi/communicator.hpp"

#include <fmt/format.h>

#include <atomic>
#include <climits>
#include <cstdlib>

namespace fedsaf {
namespace {
std::atomic<int64_t> g_max_per_call{INT_MAX};
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

Request& Request::operator=(Request&& other) noexcept {
  if (this != &other) {
    pending_.reset();  // the old request's destructor completes its work
    pending_ = std::move(other.pending_);
  }
  return *this;
}

Communicator::Communicator() {
  const char* env = std::getenv("FEDSAF_MPI_CHECKS");
  checks_ = env != nullptr && std::string(env) == "1";
  reset_stats();
}

void Communicator::set_layout(int rank, int size, int local_rank, int local_size) {
  rank_ = rank;
  size_ = size;
  local_rank_ = local_rank;
  local_size_ = local_size;
}

void Communicator::set_max_elements_per_call(int64_t n) {
  if (n < 1 || n > INT_MAX)
    throw Error(fmt::format("Communicator::set_max_elements_per_call: {} is outside [1, {}]", n, INT_MAX));
  g_max_per_call.store(n);
}

int64_t Communicator::max_elements_per_call() { return g_max_per_call.load(); }

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

}  // namespace fedsaf
