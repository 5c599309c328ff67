// The error agreement of mpi/environment.hpp over a Communicator: each form hands the work to the
// implementation's uncounted bookkeeping calls, so engine code runs on MPI or in-process ranks.
#include <exception>

#include "core/error_text.hpp"
#include "mpi/communicator.hpp"
#include "mpi/environment.hpp"

namespace fedsaf {

bool any_rank_failed(bool local_failed, Communicator& comm) { return comm.any_rank_true(local_failed); }

void throw_if_any_failed(const std::string& local_error, Communicator& comm) { comm.throw_if_any_failed(local_error); }

std::string broadcast_string(const std::string& text, int root, Communicator& comm) {
  return comm.broadcast_text(text, root);
}

void agreed(const std::function<void()>& step, Communicator& comm) {
  std::string error;
  try {
    step();
  } catch (const std::exception& e) {
    error = error_text(e);
  }
  comm.throw_if_any_failed(error);
}

}  // namespace fedsaf
