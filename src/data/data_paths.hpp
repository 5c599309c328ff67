#pragma once
// Where readers find their files when the config does not say: shared by the readers that
// register themselves (data/dataset_registry.hpp).
#include <string>

#include "core/config.hpp"

namespace fedsaf {

// Where downloaded data sets live: $FEDSAF_DATA, else ~/fedsaf-data.
std::string data_root();

// data.path, or a ConfigError naming data.path and the data set when it is empty (`what`: what
// the path must name, e.g. "the fedsaf HDF5 data set file").
const std::string& required_data_path(const Config& config, const std::string& what);

}  // namespace fedsaf
