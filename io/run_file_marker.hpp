#pragma once
// OUT/.run.h5.unfinished: "fedsaf created this run.h5 and has not finished it". A run killed while
// HDF5 was writing can leave a run.h5 nothing can read; the marker lets the next start (a requeued
// job) replace that file by itself, and nothing else: it names the file's identity (device and
// inode) as fedsaf created it, so a file another program later puts there is not taken for it, and
// it is written only once the run file exists (issue 25 §1).
#include <filesystem>

namespace fedsaf {

std::filesystem::path unfinished_marker(const std::filesystem::path& run_file);

// One process: binds the marker to run_file as it is now (it must exist). Best effort, never throws:
// without a marker a later unreadable run.h5 only needs --force.
void mark_unfinished(const std::filesystem::path& run_file);

// Whether the marker exists and names run_file's current identity.
bool marked_unfinished(const std::filesystem::path& run_file);

// Removes the marker (ignoring errors: a marker left behind binds no other file).
void clear_unfinished(const std::filesystem::path& run_file);

}  // namespace fedsaf
