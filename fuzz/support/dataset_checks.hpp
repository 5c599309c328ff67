#pragma once
// What every reader promises about the Dataset it returns (src/data/dataset.hpp): checked on each
// accepted input, so that a reader that accepts a bad file and hands on a broken data set is a
// finding as much as one that crashes.
#include "data/dataset.hpp"

namespace fedsaf::fuzz {

// Aborts through violated() naming the first broken promise.
void check_dataset(const Dataset& data);

}  // namespace fedsaf::fuzz
