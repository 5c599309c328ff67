#pragma once
// The data sets by name (data.dataset). Each reader registers itself at the end of its own file:
//   const bool registered = datasets().add({order, "name", "what it is"}, reader);
// which adds the name to data.dataset's choices and docs/config.md, and the reader to
// load_dataset. docs/adding-an-algorithm.md ("Adding a data set") walks through one.
#include <functional>
#include <string>

#include "core/config.hpp"
#include "core/registry.hpp"
#include "data/dataset.hpp"

namespace fedsaf {

// What a reader returns: the samples (normalisation is load_dataset's) and what to name in the
// errors of load_dataset's checks (the file or folder read).
struct DatasetSource {
  Dataset data;
  std::string where;
};
// A reader gets the whole config and the job's ranks (which a reader of files ignores: every rank
// reads the file; one that generates may split the work, data/dataset.hpp).
using DatasetReader = std::function<DatasetSource(const Config&, const ReaderRanks&)>;

Registry<DatasetReader>& datasets();

}  // namespace fedsaf
