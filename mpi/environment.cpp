// fedsaf: no-torch
#include "mpi/environment.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "core/error_text.hpp"

namespace fedsaf {

void check_mpi(int code, const char* op, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  std::string message(text, static_cast<size_t>(length));
  if (message.empty()) message = "MPI error code " + std::to_string(code);
  throw MpiError(std::string(op) + ": " + call + " failed: " + message);
}

Environment::Environment() { init(nullptr, nullptr); }
Environment::Environment(int& argc, char**& argv) { init(&argc, &argv); }

void Environment::init(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) {
    MPI_Query_thread(&provided_);
  } else {
    // FUNNELED: only the main thread calls MPI; torch's intra-op threads never do.
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided_) != MPI_SUCCESS) {
      std::fprintf(stderr, "fedsaf: fatal: MPI_Init_thread failed\n");
      std::exit(1);
    }
    owns_ = true;
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  const NodeLayout node = node_layout(MPI_COMM_WORLD);
  local_rank_ = node.local_rank;
  local_size_ = node.local_size;
}

Environment::~Environment() {
  if (owns_ && mpi_running()) MPI_Finalize();
}

NodeLayout node_layout(MPI_Comm comm) {
  MPI_Comm node = MPI_COMM_NULL;
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  check_mpi(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node), "node_layout",
            "MPI_Comm_split_type");
  NodeLayout layout;
  MPI_Comm_rank(node, &layout.local_rank);
  MPI_Comm_size(node, &layout.local_size);
  // A node is named by its lowest rank in comm; every rank learns every rank's name.
  int leader = rank, size = 1;
  check_mpi(MPI_Allreduce(&rank, &leader, 1, MPI_INT, MPI_MIN, node), "node_layout", "MPI_Allreduce");
  MPI_Comm_free(&node);
  MPI_Comm_size(comm, &size);
  std::vector<int> leaders(static_cast<size_t>(size));  // [size]
  check_mpi(MPI_Allgather(&leader, 1, MPI_INT, leaders.data(), 1, MPI_INT, comm), "node_layout", "MPI_Allgather");
  std::vector<int> seen;  // leaders in order of first appearance: their index is the node number
  for (int l : leaders) {
    auto it = std::find(seen.begin(), seen.end(), l);
    if (it == seen.end()) it = seen.insert(seen.end(), l);
    layout.node_of_rank.push_back(static_cast<int>(it - seen.begin()));
  }
  return layout;
}

bool mpi_running() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

void fatal(const std::string& message) {
  std::fflush(stdout);
  if (!mpi_running()) {
    std::fprintf(stderr, "fedsaf: fatal: %s\n", message.c_str());
    std::fflush(stderr);
    std::_Exit(1);
  }
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::fprintf(stderr, "fedsaf: rank %d: fatal: %s\n", rank, message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);  // MPI_Abort does not return; this keeps [[noreturn]] honest if it ever did
}

bool any_rank_failed(bool local_failed, MPI_Comm comm) {
  int local = local_failed ? 1 : 0, any = 0;
  check_mpi(MPI_Allreduce(&local, &any, 1, MPI_INT, MPI_LOR, comm), "any_rank_failed", "MPI_Allreduce");
  return any != 0;
}

void throw_if_any_failed(const std::string& local_error, MPI_Comm comm) {
  const char* op = "throw_if_any_failed";
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  // The common (no failure) path costs one all-reduce of one int.
  int local = local_error.empty() ? 0 : 1, failures = 0;
  check_mpi(MPI_Allreduce(&local, &failures, 1, MPI_INT, MPI_SUM, comm), op, "MPI_Allreduce");
  if (failures == 0) return;

  // The lowest failing rank tells everyone its message, so rank 0 can print it even if rank 0 was fine.
  int candidate = local ? rank : size, first = size;
  check_mpi(MPI_Allreduce(&candidate, &first, 1, MPI_INT, MPI_MIN, comm), op, "MPI_Allreduce");
  std::string message = broadcast_string(local_error, first, comm);
  if (failures < size) message = "rank " + std::to_string(first) + ": " + message;
  throw AgreedError(message);
}

std::string broadcast_string(const std::string& text, int root, MPI_Comm comm) {
  const char* op = "broadcast_string";
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  long long length = rank == root ? static_cast<long long>(text.size()) : 0;
  check_mpi(MPI_Bcast(&length, 1, MPI_LONG_LONG, root, comm), op, "MPI_Bcast");
  std::string out = rank == root ? text : std::string(static_cast<size_t>(length), '\0');
  // Messages and paths, far below INT_MAX bytes.
  check_mpi(MPI_Bcast(out.data(), static_cast<int>(length), MPI_CHAR, root, comm), op, "MPI_Bcast");
  return out;
}

void agreed(const std::function<void()>& step, MPI_Comm comm) {
  std::string error;
  try {
    step();
  } catch (const std::exception& e) {
    error = error_text(e);
  }
  throw_if_any_failed(error, comm);
}

int run_guarded(const std::function<int()>& body, MPI_Comm comm) {
  try {
    return body();
  } catch (const AgreedError& e) {
    int rank = 0;
    if (mpi_running()) MPI_Comm_rank(comm, &rank);
    if (rank == 0) {
      std::fprintf(stderr, "fedsaf: error: %s\n", e.what());
      std::fflush(stderr);
    }
    return 1;
  } catch (const std::exception& e) {
    fatal(error_text(e));
  } catch (...) {
    fatal("unknown exception");
  }
}

}  // namespace fedsaf
