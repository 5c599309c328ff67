// What every Communicator implementation shares: counters, layout, the Request handle, and the
// process-wide per-call limit.
#include "mpi/communicator.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <stdexcept>

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

void Communicator::set_layout(int rank, const std::vector<int>& node_of_rank) {
  if (rank < 0 || rank >= static_cast<int>(node_of_rank.size()))
    throw std::logic_error("Communicator::set_layout: rank outside the node table");
  rank_ = rank;
  size_ = static_cast<int>(node_of_rank.size());
  node_of_rank_ = node_of_rank;
  local_rank_ = static_cast<int>(std::count(node_of_rank.begin(), node_of_rank.begin() + rank, node_of_rank[rank]));
  local_size_ = static_cast<int>(std::count(node_of_rank.begin(), node_of_rank.end(), node_of_rank[rank]));
  node_count_ = *std::max_element(node_of_rank.begin(), node_of_rank.end()) + 1;
}

void Communicator::set_max_elements_per_call(int64_t n) {
  if (n < 1 || n > INT_MAX)
    throw Error(fmt::format("Communicator::set_max_elements_per_call: {} is outside [1, {}]", n, INT_MAX));
  g_max_per_call.store(n);
}

int64_t Communicator::max_elements_per_call() { return g_max_per_call.load(); }

void Communicator::count(CommKind kind, int64_t sent, int64_t received, int64_t sent_off_node,
                         int64_t received_off_node) {
  CommStats& s = stats_[kind];
  s.bytes_sent += sent;
  s.bytes_received += received;
  s.bytes_sent_off_node += sent_off_node;
  s.bytes_received_off_node += received_off_node;
  s.calls += 1;
}

void Communicator::count_reduction(CommKind kind, int64_t sent, int64_t received) {
  const int64_t others = size_ - 1;
  if (others == 0) return count(kind, sent, received, 0, 0);
  count(kind, sent, received, sent * ranks_off_node() / others, received * ranks_off_node() / others);
}

void Communicator::count_broadcast(int root, int64_t bytes) {
  if (rank_ == root) return count(CommKind::broadcast, bytes, 0, ranks_off_node() > 0 ? bytes : 0, 0);
  count(CommKind::broadcast, 0, bytes, 0, off_node(root) ? bytes : 0);
}

void Communicator::count_gather(int64_t sent, const std::vector<int64_t>& received_from) {
  int64_t received = 0, received_off_node = 0;
  for (int r = 0; r < static_cast<int>(received_from.size()); ++r) {
    received += received_from[static_cast<size_t>(r)];
    if (off_node(r)) received_off_node += received_from[static_cast<size_t>(r)];
  }
  count(CommKind::allgather, sent, received, ranks_off_node() > 0 ? sent : 0, received_off_node);
}

void Communicator::count_send(int dest, int64_t bytes) {
  count(CommKind::sendrecv, bytes, 0, off_node(dest) ? bytes : 0, 0);
}

void Communicator::count_receive(int source, int64_t bytes) {
  count(CommKind::sendrecv, 0, bytes, 0, off_node(source) ? bytes : 0);
}

CommStats Communicator::total_stats() const {
  CommStats total;
  for (const auto& [kind, s] : stats_) {
    total.bytes_sent += s.bytes_sent;
    total.bytes_received += s.bytes_received;
    total.bytes_sent_off_node += s.bytes_sent_off_node;
    total.bytes_received_off_node += s.bytes_received_off_node;
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
