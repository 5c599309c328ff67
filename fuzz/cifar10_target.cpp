// Fuzz target: the CIFAR-10 binary reader (src/data/cifar10.cpp) through read_cifar10 on a folder.
// Input: a flags byte, a length byte, that many bytes of batches.meta.txt, then the batch file.
// Flags: bit 0 writes batches.meta.txt (class names), bit 1 lets the reader find the batch files
// itself instead of naming data_batch_1.bin, bit 2 also writes the batch as test_batch.bin.
#include <cstdint>
#include <string>
#include <vector>

#include "data/readers.hpp"
#include "support/byte_reader.hpp"
#include "support/dataset_checks.hpp"
#include "support/expected.hpp"
#include "support/temp_files.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  torch::set_num_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedsaf;
  fuzz::ByteReader in(data, size);
  const uint8_t flags = in.u8();
  const std::string meta = in.string(in.u8());
  const std::string batch = in.rest();

  const std::string dir = fuzz::fresh_temp_dir();
  if (flags & 1) fuzz::write_file(dir, "batches.meta.txt", meta);
  fuzz::write_file(dir, "data_batch_1.bin", batch);
  if (flags & 4) fuzz::write_file(dir, "test_batch.bin", batch);
  const std::vector<std::string> files = flags & 2 ? std::vector<std::string>{} : std::vector<std::string>{"data_batch_1.bin"};
  Dataset read;
  if (fuzz::accepts([&] { read = read_cifar10(dir, files); })) fuzz::check_dataset(read);
  return 0;
}
