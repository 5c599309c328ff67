// fedsaf: no-torch
#include "sim/stop_signal.hpp"

#include <unistd.h>

#include <csignal>
#include <initializer_list>

namespace fedsaf {

namespace {

volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_stop_signal(int signo) {
  if (g_stop) _exit(128 + signo);  // the second signal: stop now (async-signal-safe)
  g_stop = 1;
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
