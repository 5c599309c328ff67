// test_mpi_fault_child: a tiny MPI program for tests/mpi/fault_check.sh, which runs it under
// mpirun and checks how the job ends. Modes (argv[1]):
//   fatal       rank 1 (rank 0 alone at one rank) throws inside its "work" while every other rank
//               waits in an all-reduce; run_guarded -> fatal() must end the whole job quickly.
//   agreed      every rank detects the same bad input: clean exit 1, message printed once.
//   agreed-one  only the last rank detects bad input, at a point every rank reaches: clean exit 1,
//               message printed once by rank 0, naming the failing rank.
//   ok          one all-reduce, exit 0.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "mpi/mpi_communicator.hpp"

int main(int argc, char** argv) {
  fedsaf::Environment env(argc, argv);
  const std::string mode = argc > 1 ? argv[1] : "";
  return fedsaf::run_guarded([&]() -> int {
    fedsaf::MpiCommunicator comm;
    torch::Tensor x = torch::ones({8});  // [8]
    if (mode == "fatal") {
      const int faulty = comm.size() > 1 ? 1 : 0;
      if (comm.rank() == faulty) {
        // Give the others time to block in the collective below, then fail in local work.
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        throw fedsaf::Error("client 7 diverged: loss is nan (injected fault)");
      }
      comm.allreduce_sum(x);  // never completes: rank 1 is gone
      std::fprintf(stderr, "rank %d: allreduce returned without rank %d\n", comm.rank(), faulty);
      return 0;
    }
    if (mode == "agreed" || mode == "agreed-one") {
      const bool bad = mode == "agreed" || comm.rank() == comm.size() - 1;
      fedsaf::agreed([&] {
        if (bad && mode == "agreed") throw fedsaf::ConfigError("config.toml: run.rounds must be positive, got -3");
        if (bad) throw fedsaf::DataError("data/clients.h5: client 3 has no samples");
      });
      return 0;
    }
    if (mode == "ok") {
      comm.allreduce_sum(x);
      return x[0].item<float>() == static_cast<float>(comm.size()) ? 0 : 2;
    }
    throw fedsaf::ConfigError("test_mpi_fault_child: unknown mode '" + mode + "'");
  });
}
