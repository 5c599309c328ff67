#pragma once
// Shared by the in-process communicator tests: run a body on N in-process ranks and keep one
// value per rank, so that the checks run on the test's own thread afterwards.
#include <functional>
#include <string>
#include <vector>

#include "tests/common/test_support.hpp"  // error_of
#include "mpi/in_process_communicator.hpp"

namespace fedsaf::test {

// [R]: what body returned on each rank (node_of_rank: see InProcessGroup).
template <class T>
std::vector<T> per_rank(int ranks, const std::function<T(Communicator&)>& body, const std::vector<int>& node_of_rank = {}) {
  std::vector<T> out(static_cast<size_t>(ranks));
  run_in_process(
      ranks, [&](Communicator& comm) { out[static_cast<size_t>(comm.rank())] = body(comm); }, node_of_rank);
  return out;
}

}  // namespace fedsaf::test
