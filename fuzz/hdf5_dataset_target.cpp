// Fuzz target: the HDF5 data set reader (src/data/hdf5_reader.cpp) through read_hdf5_dataset.
// Input: an HDF5 file description (support/h5_builder.hpp) over the names the reader looks up.
#include <cstdint>
#include <string>

#include "data/readers.hpp"
#include "support/byte_reader.hpp"
#include "support/dataset_checks.hpp"
#include "support/expected.hpp"
#include "support/h5_builder.hpp"
#include "support/temp_files.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  torch::set_num_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedsaf;
  static const fuzz::H5Names names{{"x", "y", "group"}, {"class_names"}};
  fuzz::ByteReader in(data, size);
  const std::string path = fuzz::fresh_temp_dir() + "/data.h5";
  fuzz::build_h5_file(path, in, names);
  Dataset read;
  if (fuzz::accepts([&] { read = read_hdf5_dataset(path); })) fuzz::check_dataset(read);
  return 0;
}
