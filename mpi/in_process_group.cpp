#include "mpi/in_process_group.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join

#include "core/errors.hpp"

namespace fedsaf {

InProcessGroup::InProcessGroup(int size, std::vector<int> node_of_rank)
    : size_(size),
      node_of_rank_(node_of_rank.empty() ? std::vector<int>(static_cast<size_t>(size), 0) : std::move(node_of_rank)),
      parts_(static_cast<size_t>(size)),
      finished_(static_cast<size_t>(size), false) {
  if (static_cast<int>(node_of_rank_.size()) != size)
    throw Error(fmt::format("InProcessGroup: {} node entries for {} ranks", node_of_rank_.size(), size));
  int next = 0;  // the number the next new node must have
  for (int node : node_of_rank_) {
    if (node > next || node < 0)
      throw Error(fmt::format("InProcessGroup: nodes must be numbered 0, 1, ... in order of first appearance; got {}",
                              fmt::join(node_of_rank_, ",")));
    if (node == next) ++next;
  }
}

void InProcessGroup::check_poison(const char* op) const {
  if (!poison_.empty()) throw Error(fmt::format("{}: abandoned, the in-process group is broken: {}", op, poison_));
}

int InProcessGroup::first_finished() const {
  for (int r = 0; r < size_; ++r)
    if (finished_[static_cast<size_t>(r)]) return r;
  return -1;
}

std::vector<InProcessPart> InProcessGroup::exchange(int rank, InProcessPart mine, const char* op) {
  std::unique_lock<std::mutex> lock(mutex_);
  check_poison(op);
  parts_[static_cast<size_t>(rank)] = std::move(mine);
  const uint64_t generation = generation_;
  if (++arrived_ == size_) {  // the last to arrive completes the call for everyone
    published_ = std::move(parts_);
    parts_.assign(static_cast<size_t>(size_), InProcessPart{});
    arrived_ = 0;
    ++generation_;
    changed_.notify_all();
    return published_;
  }
  changed_.wait(lock, [&] { return generation_ != generation || !poison_.empty() || first_finished() >= 0; });
  // published_ stays until the next call completes, which needs this rank: safe to copy now.
  if (generation_ != generation) return published_;
  check_poison(op);
  throw Error(fmt::format("{}: rank {} returned without calling it (the ranks break the collective contract)", op,
                          first_finished()));
}

void InProcessGroup::post(int source, int dest, int tag, torch::Tensor data) {
  std::lock_guard<std::mutex> lock(mutex_);
  mail_[Key{source, dest, tag}].push_back(std::move(data));
  changed_.notify_all();
}

torch::Tensor InProcessGroup::take(int source, int dest, int tag, const char* op) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto& box = mail_[Key{source, dest, tag}];
  changed_.wait(lock, [&] { return !box.empty() || !poison_.empty() || finished_[static_cast<size_t>(source)]; });
  if (box.empty()) {
    check_poison(op);
    throw Error(fmt::format("{}: rank {} returned without sending the message (tag {}) rank {} waits for", op, source,
                            tag, dest));
  }
  torch::Tensor data = std::move(box.front());
  box.pop_front();
  return data;
}

bool InProcessGroup::ready(int source, int dest, int tag, const char* op) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = mail_.find(Key{source, dest, tag});
  if (it != mail_.end() && !it->second.empty()) return true;
  check_poison(op);
  return false;
}

void InProcessGroup::poison(int rank, const std::string& error) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (poison_.empty()) poison_ = fmt::format("rank {} failed: {}", rank, error);
  changed_.notify_all();
}

void InProcessGroup::finished(int rank) {
  std::lock_guard<std::mutex> lock(mutex_);
  finished_[static_cast<size_t>(rank)] = true;
  changed_.notify_all();
}

}  // namespace fedsaf
