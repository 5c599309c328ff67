// fedsaf: no-torch
#include "sim/stop_signal.hpp"

#include <time.h>
#include <unistd.h>

#include <csignal>
#include <initializer_list>

namespace fedsaf {

namespace {

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_first_signo = 0;
timespec g_first_at{};

// Seconds since the first signal (clock_gettime is async-signal-safe).
double since_first() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec - g_first_at.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec - g_first_at.tv_nsec);
}

extern "C" void on_stop_signal(int signo) {
  if (!g_stop) {
    g_stop = 1;
    g_first_signo = signo;
    clock_gettime(CLOCK_MONOTONIC, &g_first_at);
    return;
  }
  // The same signal again within kRepeatSeconds is one stop request delivered twice (Slurm
  // signals the ranks and mpirun forwards the same signal a moment later), not a second one.
  if (signo == g_first_signo && since_first() < kRepeatSeconds) return;
  _exit(128 + signo);  // a second signal: stop now (async-signal-safe)
}

}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // blocking calls (MPI, file I/O) continue after the handler
  for (int signo : {SIGTERM, SIGUSR1, SIGINT}) sigaction(signo, &action, nullptr);
}

bool stop_requested() { return g_stop != 0; }
void request_stop() { g_stop = 1; }
void clear_stop_request() { g_stop = 0; }

}  // namespace fedsaf
