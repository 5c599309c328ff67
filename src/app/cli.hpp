#pragma once
// The `fedsaf` command line: parses the sub-command and turns every fedsaf::Error into one
// "fedsaf: error: ..." line and a non-zero exit status.
namespace fedsaf::app {

// Exit codes, documented in the README.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;   // a fedsaf error (bad input, I/O failure, ...)
inline constexpr int kExitUsage = 2;     // bad command-line usage
inline constexpr int kExitWillNotFit = 3;  // `fedsaf plan`: a rank's predicted peak exceeds its node's memory
// 75 (kExitStoppedResumable, src/sim/stop_signal.hpp): `fedsaf run` stopped on a signal after
// writing a checkpoint; run the same command again to resume.

int run_cli(int argc, char** argv);

}  // namespace fedsaf::app
