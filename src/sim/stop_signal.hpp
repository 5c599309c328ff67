#pragma once
// Stopping a run cleanly on SIGTERM, SIGUSR1 (Slurm's --signal) or SIGINT: the first signal only
// raises a flag; the engine checks it (collectively) after every round, writes a checkpoint and
// returns, and `fedsaf run` exits with kExitStoppedResumable. A second signal ends the process at
// once with status 128 + signal number (the previous checkpoint stays usable); the same signal
// repeated within kRepeatSeconds counts as the first one delivered twice.

namespace fedsaf {

// "Stopped cleanly after a checkpoint: run the same command again to resume" (EX_TEMPFAIL).
inline constexpr int kExitStoppedResumable = 75;
inline constexpr double kRepeatSeconds = 2.0;

void install_stop_handlers();  // idempotent
bool stop_requested();         // this process got a stop signal (or request_stop)
void request_stop();           // as if a signal had arrived (tests)
void clear_stop_request();     // tests

}  // namespace fedsaf
