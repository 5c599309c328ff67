// The one registry of data set readers (a function-local static: readers register from other
// files' static initialisers, in any order).
#include "data/dataset_registry.hpp"

namespace fedsaf {

Registry<DatasetReader>& datasets() {
  static Registry<DatasetReader> all("data.dataset", "data.dataset = \"{value}\" is not one of {choices}");
  return all;
}

}  // namespace fedsaf
