#include "mpi/in_process_communicator.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

#include "core/error_text.hpp"
#include "mpi/tensor_checks.hpp"

namespace fedsaf {
namespace {

using namespace comm_checks;

// A private CPU copy: the owner may overwrite its tensor while other ranks still read this.
torch::Tensor private_copy(const torch::Tensor& t) {
  return t.detach().to(torch::kCPU).clone(torch::MemoryFormat::Contiguous);
}

// Writes value (any shape of t's element count, on the CPU) into t's own storage.
void write_into(const torch::Tensor& t, const torch::Tensor& value) { t.detach().copy_(value.reshape(t.sizes())); }

InProcessPart part(int op, const torch::Tensor& t, int64_t numel, int64_t extra, bool with_data = true) {
  InProcessPart p;
  p.meta = {op, t.defined() ? static_cast<int64_t>(t.scalar_type()) : -1, numel, extra};
  if (with_data && t.defined()) p.tensor = private_copy(t);
  return p;
}

InProcessPart bookkeeping(int op, int64_t extra = 0) {
  InProcessPart p;
  p.meta = {op, -1, 0, extra};
  return p;
}

int64_t nbytes(const torch::Tensor& t) { return t.numel() * static_cast<int64_t>(t.element_size()); }

// An irecv: the message is taken when waited for (or when test() finds it), counted when posted.
class InProcessReceive final : public Request::Pending {
 public:
  InProcessReceive(std::shared_ptr<InProcessGroup> group, int source, int dest, int tag, torch::Tensor target,
                   const char* op)
      : group_(std::move(group)), source_(source), dest_(dest), tag_(tag), target_(std::move(target)),
        what_(fmt::format("{} from rank {} (tag {})", op, source, tag)) {}
  ~InProcessReceive() override {
    if (done_ || std::uncaught_exceptions() > 0) return;  // unwinding: drop it, as MPI cancels
    try {
      wait();
    } catch (const std::exception& e) {
      fatal(error_text(e));
    }
  }
  void wait() override {
    if (done_) return;
    done_ = true;
    deliver(group_->take(source_, dest_, tag_, what_.c_str()));
  }
  bool test() override {
    if (done_) return true;
    if (!group_->ready(source_, dest_, tag_, what_.c_str())) return false;
    wait();
    return true;
  }
  bool pending() const override { return !done_; }

 private:
  void deliver(const torch::Tensor& data) {
    if (data.scalar_type() != target_.scalar_type() || data.numel() != target_.numel())
      throw Error(fmt::format("{}: expected {} elements of {}, got {} of {}", what_, target_.numel(),
                              dtype_name(target_.scalar_type()), data.numel(), dtype_name(data.scalar_type())));
    write_into(target_, data);
  }

  std::shared_ptr<InProcessGroup> group_;
  int source_, dest_, tag_;
  torch::Tensor target_;
  std::string what_;
  bool done_ = false;
};

}  // namespace

InProcessCommunicator::InProcessCommunicator(std::shared_ptr<InProcessGroup> group, int rank) : group_(std::move(group)) {
  set_layout(rank, group_->node_of_rank());
}

std::vector<InProcessPart> InProcessCommunicator::exchange(const char* op, InProcessPart mine) {
  std::vector<InProcessPart> parts = group_->exchange(rank(), std::move(mine), op);
  for (int r = 1; r < size(); ++r)
    if (parts[static_cast<size_t>(r)].meta != parts[0].meta)
      throw Error(contract_violation(op, parts[0].meta.data(), r, parts[static_cast<size_t>(r)].meta.data()));
  return parts;
}

torch::Tensor InProcessCommunicator::reduce(const std::vector<InProcessPart>& parts, bool maximum) {
  torch::Tensor result = parts[0].tensor.clone();  // [as the tensors]
  for (size_t r = 1; r < parts.size(); ++r) {
    if (maximum) {
      result = torch::maximum(result, parts[r].tensor);
    } else {
      result.add_(parts[r].tensor);
    }
  }
  return result;
}

// ---- collectives ---------------------------------------------------------------------------------

void InProcessCommunicator::allreduce_sum(const torch::Tensor& tensor) {
  const char* op = "allreduce_sum";
  check_tensor(tensor, op);
  write_into(tensor, reduce(exchange(op, part(kAllreduce, tensor, tensor.numel(), 0)), false));
  count_reduction(CommKind::allreduce, nbytes(tensor), nbytes(tensor));
}

void InProcessCommunicator::allreduce_max(const torch::Tensor& tensor) {
  const char* op = "allreduce_max";
  check_tensor(tensor, op);
  write_into(tensor, reduce(exchange(op, part(kAllreduceMax, tensor, tensor.numel(), 0)), true));
  count_reduction(CommKind::allreduce, nbytes(tensor), nbytes(tensor));
}

void InProcessCommunicator::allreduce_sum_fused(const std::vector<torch::Tensor>& tensors) {
  const char* op = "allreduce_sum_fused";
  // Packed per dtype in order of first appearance, as MPI's: [n_dtype] each, then one exchange.
  std::vector<torch::ScalarType> dtypes;
  std::vector<std::vector<torch::Tensor>> groups;
  int64_t total = 0;
  for (const torch::Tensor& t : tensors) {
    check_dense(t, op);  // contiguity not needed: packing copies
    const auto it = std::find(dtypes.begin(), dtypes.end(), t.scalar_type());
    if (it == dtypes.end()) {
      dtypes.push_back(t.scalar_type());
      groups.push_back({t});
    } else {
      groups[static_cast<size_t>(it - dtypes.begin())].push_back(t);
    }
    total += t.numel();
  }
  const int64_t dtype = dtypes.size() == 1 ? static_cast<int64_t>(dtypes[0]) : -1;
  InProcessPart mine = bookkeeping(kAllreduceFused, static_cast<int64_t>(tensors.size()));
  mine.meta[1] = dtype;
  mine.meta[2] = total;
  const std::vector<InProcessPart> none = exchange(op, mine);  // the contract check, once per call
  (void)none;
  int64_t bytes = 0;
  for (const auto& group : groups) {
    std::vector<torch::Tensor> flat;
    for (const torch::Tensor& t : group) flat.push_back(t.detach().to(torch::kCPU).reshape({-1}));
    InProcessPart packed;
    packed.meta = {kAllreduceFused, static_cast<int64_t>(group[0].scalar_type()), 0, 0};
    packed.tensor = torch::cat(flat);  // [n] a fresh CPU copy
    const torch::Tensor sum = reduce(exchange(op, std::move(packed)), false);  // [n]
    int64_t offset = 0;
    for (const torch::Tensor& t : group) {  // unpack into each tensor's own storage, whatever its strides
      write_into(t, sum.narrow(0, offset, t.numel()));
      offset += t.numel();
    }
    bytes += nbytes(sum);
  }
  count_reduction(CommKind::allreduce, bytes, bytes);
}

void InProcessCommunicator::broadcast(const torch::Tensor& tensor, int root) {
  const char* op = "broadcast";
  check_tensor(tensor, op);
  check_rank(root, size(), op, "root");
  const std::vector<InProcessPart> parts = exchange(op, part(kBroadcast, tensor, tensor.numel(), root, rank() == root));
  if (rank() != root) write_into(tensor, parts[static_cast<size_t>(root)].tensor);
  count_broadcast(root, nbytes(tensor));
}

torch::Tensor InProcessCommunicator::allgather(const torch::Tensor& tensor) {
  const char* op = "allgather";
  check_tensor(tensor, op);
  const std::vector<InProcessPart> parts = exchange(op, part(kAllgather, tensor, tensor.numel(), 0));
  std::vector<torch::Tensor> rows;
  for (const InProcessPart& p : parts) rows.push_back(p.tensor.reshape(tensor.sizes()));
  const torch::Tensor out = torch::stack(rows);  // [R, *S]
  count_gather(nbytes(tensor), std::vector<int64_t>(static_cast<size_t>(size()), nbytes(tensor)));
  return out.to(tensor.device());
}

Gathered InProcessCommunicator::allgatherv(const torch::Tensor& tensor) {
  const char* op = "allgatherv";
  check_tensor(tensor, op);
  const torch::Tensor rows = tensor.dim() == 0 ? tensor.reshape({1}) : tensor;  // [n_r, *rest]
  const std::vector<InProcessPart> parts = exchange(op, part(kAllgatherv, rows, -1, 0));
  Gathered result;
  std::vector<torch::Tensor> pieces;
  std::vector<int64_t> received_from;  // [R] bytes
  for (int r = 0; r < size(); ++r) {
    const torch::Tensor& theirs = parts[static_cast<size_t>(r)].tensor;  // [n_r, *rest]
    if (theirs.sizes().slice(1) != rows.sizes().slice(1))
      throw Error(fmt::format("{}: rows differ in shape: rank {} has {} dims of {} elements after the first, rank {} "
                              "has {} dims of {}",
                              op, rank(), rows.dim() - 1, c10::multiply_integers(rows.sizes().slice(1)), r,
                              theirs.dim() - 1, c10::multiply_integers(theirs.sizes().slice(1))));
    result.counts.push_back(theirs.size(0));
    received_from.push_back(nbytes(theirs));
    pieces.push_back(theirs);
  }
  result.data = torch::cat(pieces).to(tensor.device());  // [sum n_r, *rest]
  count_gather(nbytes(tensor), received_from);
  return result;
}

torch::Tensor InProcessCommunicator::reduce_scatter_sum(const torch::Tensor& tensor) {
  const char* op = "reduce_scatter_sum";
  check_tensor(tensor, op);
  check_scatterable(tensor, size(), op);
  const torch::Tensor sum = reduce(exchange(op, part(kReduceScatter, tensor, tensor.numel(), 0)), false);  // [R*m, *rest]
  const int64_t m = tensor.size(0) / size();
  const torch::Tensor out = sum.narrow(0, rank() * m, m).clone();  // [m, *rest]
  count_reduction(CommKind::reduce_scatter, nbytes(tensor), nbytes(out));
  return out.to(tensor.device());
}

void InProcessCommunicator::barrier() { exchange("barrier", bookkeeping(kBarrier)); }

// ---- point to point ------------------------------------------------------------------------------

void InProcessCommunicator::send(const torch::Tensor& tensor, int dest, int tag) {
  const char* op = "send";
  check_tensor(tensor, op);
  check_rank(dest, size(), op, "destination rank");
  check_tag(tag, op);
  group_->post(rank(), dest, tag, private_copy(tensor));
  count_send(dest, nbytes(tensor));
}

void InProcessCommunicator::recv(const torch::Tensor& tensor, int source, int tag) {
  receive(tensor, source, tag, "recv").wait();
}

Request InProcessCommunicator::isend(const torch::Tensor& tensor, int dest, int tag) {
  send(tensor, dest, tag);  // buffered: complete at once
  return Request();
}

Request InProcessCommunicator::irecv(const torch::Tensor& tensor, int source, int tag) {
  return receive(tensor, source, tag, "irecv");
}

Request InProcessCommunicator::receive(const torch::Tensor& tensor, int source, int tag, const char* op) {
  check_tensor(tensor, op);
  check_rank(source, size(), op, "source rank");
  check_tag(tag, op);
  count_receive(source, nbytes(tensor));
  return Request(std::make_unique<InProcessReceive>(group_, source, rank(), tag, tensor, op));
}

// ---- bookkeeping ---------------------------------------------------------------------------------

bool InProcessCommunicator::any_rank_true(bool local) {
  InProcessPart mine = bookkeeping(kAnyRankTrue);
  mine.value = local ? 1 : 0;
  const std::vector<InProcessPart> parts = exchange("any_rank_failed", mine);
  return std::any_of(parts.begin(), parts.end(), [](const InProcessPart& p) { return p.value != 0; });
}

void InProcessCommunicator::throw_if_any_failed(const std::string& local_error) {
  InProcessPart mine = bookkeeping(kThrowIfAnyFailed);
  mine.text = local_error;
  const std::vector<InProcessPart> parts = exchange("throw_if_any_failed", mine);
  int failures = 0, first = -1;
  for (int r = 0; r < size(); ++r) {
    if (parts[static_cast<size_t>(r)].text.empty()) continue;
    ++failures;
    if (first < 0) first = r;
  }
  if (failures == 0) return;
  std::string message = parts[static_cast<size_t>(first)].text;
  if (failures < size()) message = "rank " + std::to_string(first) + ": " + message;
  throw AgreedError(message);
}

std::string InProcessCommunicator::broadcast_text(const std::string& text, int root) {
  check_rank(root, size(), "broadcast_string", "root");
  InProcessPart mine = bookkeeping(kBroadcastText, root);
  mine.text = text;
  return exchange("broadcast_string", mine)[static_cast<size_t>(root)].text;
}

std::vector<int64_t> InProcessCommunicator::gather_sizes(int64_t n) {
  InProcessPart mine = bookkeeping(kGatherSizes);
  mine.value = n;
  std::vector<int64_t> all;  // [R]
  for (const InProcessPart& p : exchange("gather_sizes", mine)) all.push_back(p.value);
  return all;
}

// ---- the group's threads ------------------------------------------------------------------------

void run_in_process(int ranks, const std::function<void(Communicator&)>& body, const std::vector<int>& node_of_rank) {
  if (ranks < 1) throw Error(fmt::format("run_in_process: {} ranks; need at least 1", ranks));
  auto group = std::make_shared<InProcessGroup>(ranks, node_of_rank);
  std::mutex mutex;
  std::exception_ptr first;  // the first exception any rank threw
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      std::string error;
      std::exception_ptr thrown;
      try {
        InProcessCommunicator comm(group, r);
        body(comm);
        group->finished(r);
        return;
      } catch (const std::exception& e) {
        error = error_text(e);
        thrown = std::current_exception();
      } catch (...) {
        error = "unknown exception";
        thrown = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (!first) first = thrown;
      }
      group->poison(r, error);  // after recording: the first exception stays this one
    });
  }
  for (std::thread& t : threads) t.join();
  if (first) std::rethrow_exception(first);
}

}  // namespace fedsaf
