#pragma once
// The error types every fedsaf component throws. Messages name the file or key and what is wrong;
// the command line prints them as one line and exits non-zero.
#include <stdexcept>
#include <string>

namespace fedsaf {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A bad config file, config key or command-line override.
struct ConfigError : Error {
  using Error::Error;
};
// A data file that is missing, truncated or inconsistent.
struct DataError : Error {
  using Error::Error;
};
// An HDF5 or file-system failure while reading or writing fedsaf's own files.
struct IoError : Error {
  using Error::Error;
};

}  // namespace fedsaf
