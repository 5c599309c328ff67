#pragma once
// The MPI implementation of Communicator (mpi/communicator.hpp, whose contract it follows): a
// private duplicate of an MPI communicator, with MPI_ERRORS_RETURN, so fedsaf's traffic never
// mixes with anyone else's.
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "mpi/communicator.hpp"

namespace fedsaf {

class MpiCommunicator final : public Communicator {
 public:
  // Duplicates comm (collective over comm) and sets MPI_ERRORS_RETURN on the copy.
  explicit MpiCommunicator(MPI_Comm comm = MPI_COMM_WORLD);
  ~MpiCommunicator() override;  // frees the duplicate (unless MPI is already finalised)
  MpiCommunicator(MpiCommunicator&& other) noexcept;
  MpiCommunicator& operator=(MpiCommunicator&& other) noexcept;

  MPI_Comm raw() const { return comm_; }  // the duplicate; elsewhere use mpi_handle()

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
  void verify(const char* op, int op_id, int64_t dtype, int64_t numel, int64_t extra);
  void reduce_in_place(const torch::Tensor& host, MPI_Datatype type, MPI_Op reduction, const char* op);
  void allreduce(const torch::Tensor& tensor, MPI_Op reduction, int op_id, const char* op);
  // The buffer MPI reads `t` from: t itself (CPU, or CUDA-aware MPI), else a pinned host copy.
  torch::Tensor staged(const torch::Tensor& t) const;
  // A buffer MPI may write `t`'s result into: t itself (CPU, CUDA-aware), else pinned host memory.
  torch::Tensor landing(const torch::Tensor& t) const;

  MPI_Comm comm_ = MPI_COMM_NULL;
};

// The MPI handle of comm, for what only MPI can do (parallel HDF5: run files, checkpoints).
// Throws fedsaf::Error naming `operation` when comm is not an MpiCommunicator ("run files and
// checkpoints need an MPI communicator"). Keep its uses few: the rest of fedsaf must run on any
// Communicator.
MPI_Comm mpi_handle(const Communicator& comm, const char* operation);

}  // namespace fedsaf
