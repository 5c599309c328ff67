#pragma once
// Output files that fedsaf writes where other files may already be: an existing path is replaced
// only when the user says so (--force) and never when it is a folder, a FIFO or a device, and a
// temporary name is claimed exclusively, so that a file somebody else left there is never
// truncated (and never removed on failure).
#include <string>

namespace fedsaf {

// Throws IoError naming `out` unless it may be written: absent, or a regular file and `force`.
// `what` names the output in messages ("OUT", "--out").
void check_output_path(const std::string& out, bool force, const std::string& what);

// Creates `out + suffix` empty and exclusively and returns its name. An existing one (a run of the
// same command still going, or one that was killed) is refused, naming it, unless `force`, which
// replaces a regular file there.
std::string claim_temporary(const std::string& out, const std::string& suffix, bool force);

}  // namespace fedsaf
