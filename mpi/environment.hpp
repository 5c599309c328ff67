#pragma once
// MPI start-up and shutdown, and the two error paths of a parallel run (LAMMPS style):
//
//  * an error that EVERY rank detects at the same point (bad config, bad input file, bad
//    checkpoint) goes through agreed(): all ranks learn of it in one collective, rank 0 prints the
//    message once, and every rank exits cleanly with status 1;
//  * an error that only SOME ranks detect (a client diverging, an MPI failure, a bug) goes to
//    fatal(): the rank prints "fedsaf: rank R: fatal: ..." and calls MPI_Abort, which ends the
//    whole job within seconds instead of leaving the other ranks waiting in a collective.
//
// run_guarded() puts the two together around a rank's main body.
#include <mpi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "mpi/test_hooks.hpp"  // fail_point, slow_point: used where the error paths are

namespace fedsaf {

class Communicator;

// An MPI call returned an error code (only on communicators with MPI_ERRORS_RETURN, such as a
// Communicator's own): the message names the fedsaf operation, the MPI call and MPI's error text.
struct MpiError : Error {
  using Error::Error;
};

// An error every rank of a communicator knows about (thrown on every rank by agreed() and
// throw_if_any_failed()); run_guarded() turns it into a clean exit with status 1.
struct AgreedError : Error {
  using Error::Error;
};

// MPI is initialised and not yet finalised.
bool mpi_running();

// Throws MpiError("<op>: <call> failed: <MPI error string>") unless code is MPI_SUCCESS.
void check_mpi(int code, const char* op, const char* call);

// RAII MPI initialisation. Calls MPI_Init_thread(MPI_THREAD_FUNNELED) unless MPI is already
// initialised (then it neither initialises nor finalises); the destructor calls MPI_Finalize if
// this object initialised MPI and nobody finalised it since. Create one, in main, before any
// Communicator, and let it outlive them.
class Environment {
 public:
  Environment();                          // no command-line arguments for MPI to read
  Environment(int& argc, char**& argv);   // lets MPI see (and strip) its own arguments
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  int rank() const { return rank_; }              // in MPI_COMM_WORLD
  int size() const { return size_; }              // of MPI_COMM_WORLD
  int local_rank() const { return local_rank_; }  // among the world ranks on this node
  int local_size() const { return local_size_; }  // world ranks on this node
  int thread_level() const { return provided_; }  // what MPI granted (MPI_THREAD_*)
  bool owns_mpi() const { return owns_; }         // this object initialised MPI

 private:
  void init(int* argc, char*** argv);
  bool owns_ = false;
  int provided_ = MPI_THREAD_SINGLE;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
};

// Rank and size of `comm` within the node (MPI_Comm_split_type SHARED), and every rank's node;
// collective over comm.
struct NodeLayout {
  int local_rank = 0;
  int local_size = 1;
  std::vector<int> node_of_rank;  // [size of comm]: 0, 1, ... in order of first appearance
};
NodeLayout node_layout(MPI_Comm comm);

// Prints "fedsaf: rank R: fatal: <message>" (R = world rank) to stderr and aborts every rank of
// MPI_COMM_WORLD with status 1. Not collective: call it from the one rank that failed. Without a
// running MPI it prints "fedsaf: fatal: <message>" and exits with status 1.
[[noreturn]] void fatal(const std::string& message);


// Collective over comm (MPI_Allreduce, logical or): true on every rank when any rank passed true.
// For errors that every rank checks at the same point.
bool any_rank_failed(bool local_failed, MPI_Comm comm = MPI_COMM_WORLD);

// Collective over comm. Every rank passes its own error message ("" when it is fine). When no rank
// failed this returns (one small all-reduce). Otherwise every rank throws AgreedError carrying the
// message of the lowest failing rank, prefixed by "rank R: " unless every rank failed.
void throw_if_any_failed(const std::string& local_error, MPI_Comm comm = MPI_COMM_WORLD);

// Collective over comm: root's text, on every rank (the others' `text` is ignored).
std::string broadcast_string(const std::string& text, int root, MPI_Comm comm = MPI_COMM_WORLD);

// Collective over comm: runs step on every rank; a std::exception it throws on any rank becomes
// AgreedError on every rank (see throw_if_any_failed). Use it where all ranks validate the same
// input, so that a bad file ends the run cleanly instead of through MPI_Abort.
void agreed(const std::function<void()>& step, MPI_Comm comm = MPI_COMM_WORLD);

// The same four on a Communicator (mpi/communicator.hpp), whichever its implementation (the MPI
// one runs the MPI_Comm forms above on its duplicate); uncounted in its byte counters. Code
// outside mpi/ uses these.
bool any_rank_failed(bool local_failed, Communicator& comm);
void throw_if_any_failed(const std::string& local_error, Communicator& comm);
std::string broadcast_string(const std::string& text, int root, Communicator& comm);
void agreed(const std::function<void()>& step, Communicator& comm);

// Runs a rank's main body and returns its exit status. AgreedError: rank 0 of comm prints
// "fedsaf: error: <message>" once and every rank returns 1 (clean, MPI still finalises). Any other
// exception: fatal(), which aborts the whole job.
int run_guarded(const std::function<int()>& body, MPI_Comm comm = MPI_COMM_WORLD);

}  // namespace fedsaf
