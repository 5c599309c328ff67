#pragma once
// The readers take paths, so each fuzz input is written to files first: in one private folder
// per process (under $TMPDIR), emptied before each input and removed at exit.
#include <cstddef>
#include <string>
#include <string_view>

namespace fedsaf::fuzz {

// This process's folder, emptied (created on first use).
std::string fresh_temp_dir();
// Writes bytes to dir/name and returns the path.
std::string write_file(const std::string& dir, const std::string& name, std::string_view bytes);

}  // namespace fedsaf::fuzz
