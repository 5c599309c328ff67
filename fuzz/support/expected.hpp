#pragma once
// What a fuzz target accepts as a correct answer to a bad input: one of fedsaf's own errors
// (core/errors.hpp), which name the file and the problem. Anything else is a finding: another
// exception (std::bad_alloc, std::out_of_range, c10::Error) escapes and ends the process, and
// libFuzzer records the input, as it does for crashes and sanitizer reports.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/errors.hpp"

namespace fedsaf::fuzz {

// Runs read(); returns whether it succeeded, false when it threw a fedsaf::Error. With
// FEDSAF_FUZZ_VERBOSE=1 in the environment it prints the error (to see why a seed is rejected).
template <class Read>
bool accepts(Read&& read) {
  static const bool verbose = std::getenv("FEDSAF_FUZZ_VERBOSE") != nullptr;
  try {
    read();
    if (verbose) std::fprintf(stderr, "fedsaf fuzz: accepted\n");
    return true;
  } catch (const Error& e) {
    if (verbose) std::fprintf(stderr, "fedsaf fuzz: rejected: %s\n", e.what());
    return false;
  }
}

// A property of an accepted input does not hold: print what and abort (a finding).
[[noreturn]] inline void violated(const std::string& what) {
  std::fprintf(stderr, "fedsaf fuzz: property violated: %s\n", what.c_str());
  std::abort();
}

}  // namespace fedsaf::fuzz
