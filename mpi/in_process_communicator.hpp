#pragma once
// The in-process implementation of Communicator (mpi/communicator.hpp, whose contract it follows):
// a group of N ranks run as N threads of one process, as c10d's fake process group, so tests of
// engine and algorithm logic run without mpirun. Every collective gives what MPI gives: sums and
// maxima accumulate in rank order (rank 0 first), so results are the same on every rank and from
// run to run; gathers concatenate rank 0 first. Byte counters follow the MPI model. Point to point
// is buffered: send and isend never block. Contract checks are always on. local_rank() = rank(),
// local_size() = size() (one node).
//
// Torch state is process-wide (torch::set_num_threads, the engine's test hooks): tests keep the
// ranks at one torch thread each.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mpi/communicator.hpp"
#include "mpi/in_process_group.hpp"

namespace fedsaf {

class InProcessCommunicator final : public Communicator {
 public:
  InProcessCommunicator(std::shared_ptr<InProcessGroup> group, int rank);

  void allreduce_sum(const torch::Tensor& tensor) override;
  void allreduce_max(const torch::Tensor& tensor) override;
  void allreduce_sum_fused(const std::vector<torch::Tensor>& tensors) override;
  void broadcast(const torch::Tensor& tensor, int root) override;
  torch::Tensor allgather(const torch::Tensor& tensor) override;
  Gathered allgatherv(const torch::Tensor& tensor) override;
  torch::Tensor reduce_scatter_sum(const torch::Tensor& tensor) override;
  void barrier() override;

  void send(const torch::Tensor& tensor, int dest, int tag = 0) override;
  void recv(const torch::Tensor& tensor, int source, int tag = 0) override;
  Request isend(const torch::Tensor& tensor, int dest, int tag = 0) override;
  Request irecv(const torch::Tensor& tensor, int source, int tag = 0) override;

  bool any_rank_true(bool local) override;
  void throw_if_any_failed(const std::string& local_error) override;
  std::string broadcast_text(const std::string& text, int root) override;
  std::vector<int64_t> gather_sizes(int64_t n) override;

 private:
  // Runs one collective: deposits `mine` (meta = operation, dtype, elements, extra) and returns
  // every rank's part; throws Error naming both sides when the metas differ.
  std::vector<InProcessPart> exchange(const char* op, InProcessPart mine);
  // recv and irecv: a receive that errors name as `op` ("recv from rank 1 (tag 0): ...").
  Request receive(const torch::Tensor& tensor, int source, int tag, const char* op);
  // Sums (or takes the maximum of) every rank's tensor, rank 0 first.
  static torch::Tensor reduce(const std::vector<InProcessPart>& parts, bool maximum);

  std::shared_ptr<InProcessGroup> group_;
};

// Runs body(comm) on `ranks` threads; thread r gets rank r of one new group. Returns when every
// thread has ended. The first exception a rank throws breaks the group (every rank waiting on a
// call throws) and is rethrown here once every thread has ended. node_of_rank: see InProcessGroup.
void run_in_process(int ranks, const std::function<void(Communicator&)>& body,
                    const std::vector<int>& node_of_rank = {});

}  // namespace fedsaf
