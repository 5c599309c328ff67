#pragma once
// The shared state of one in-process group (mpi/in_process_communicator.hpp): the rendezvous of
// its collectives, the mailboxes of its point-to-point messages, and its poisoning. Thread-safe;
// each rank's thread calls with its own rank.
//
// A group breaks when a rank throws (poison(): every call waiting, and every later call, throws
// Error naming that rank and its error) or returns while others still wait on it (finished():
// a collective or receive that needs it throws), so no thread waits forever on a peer that is gone.
#include <torch/torch.h>

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace fedsaf {

// What one rank brings to a collective.
struct InProcessPart {
  std::array<int64_t, 4> meta{0, -1, 0, 0};  // operation, dtype (or -1), elements, extra: the contract check
  torch::Tensor tensor;                      // a private CPU copy of the rank's tensor (undefined if none)
  std::string text;                          // bookkeeping calls: error text, broadcast text
  int64_t value = 0;                         // bookkeeping calls: gather_sizes' n
};

class InProcessGroup {
 public:
  // node_of_rank: [size] the node each rank pretends to be on, numbered 0, 1, ... in order of
  // first appearance (tests of the off-node byte counts); empty = every rank on node 0.
  explicit InProcessGroup(int size, std::vector<int> node_of_rank = {});
  int size() const { return size_; }
  const std::vector<int>& node_of_rank() const { return node_of_rank_; }  // [size]

  // Collective: deposits rank's part and blocks until every rank has deposited one for this call;
  // returns every part [R], rank 0 first (the same on every rank).
  std::vector<InProcessPart> exchange(int rank, InProcessPart mine, const char* op);

  // Point to point, matched by (source, dest, tag) in posting order. post never blocks (the data
  // is a private copy); take blocks until a message arrives.
  void post(int source, int dest, int tag, torch::Tensor data);
  torch::Tensor take(int source, int dest, int tag, const char* op);
  bool ready(int source, int dest, int tag, const char* op);  // take would not block

  void poison(int rank, const std::string& error);
  void finished(int rank);

 private:
  using Key = std::tuple<int, int, int>;  // source, dest, tag
  // Throws when the group is poisoned; call with the lock held.
  void check_poison(const char* op) const;
  int first_finished() const;  // lowest rank that returned, or -1

  const int size_;
  std::vector<int> node_of_rank_;  // [size]
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<InProcessPart> parts_;      // [R] the call being assembled
  std::vector<InProcessPart> published_;  // [R] the last completed call's parts
  int arrived_ = 0;
  uint64_t generation_ = 0;               // completed collective calls
  std::map<Key, std::deque<torch::Tensor>> mail_;
  std::string poison_;                    // "" while healthy
  std::vector<bool> finished_;            // [R]
};

}  // namespace fedsaf
