// Fuzz target: the IDX reader (src/data/idx.cpp, MNIST / FashionMNIST) through read_idx_pair.
// Input: a flags byte, a 16-bit little-endian split, then the bytes of the image file (before the
// split) and of the label file (after it). Flags: bit 0 gzips the image file, bit 1 the label file
// (so that the fuzzer reaches the reader's gzip paths without forging CRCs), bit 2 cuts the end
// off the gzipped image stream (a truncated download).
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "data/readers.hpp"
#include "support/byte_reader.hpp"
#include "support/dataset_checks.hpp"
#include "support/expected.hpp"
#include "support/temp_files.hpp"

namespace {

// bytes gzipped (as gzip(1) writes them), less `cut` bytes at the end.
std::string gzip(const std::string& bytes, size_t cut) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // 15 + 16: gzip wrapper
  std::string out(deflateBound(&z, bytes.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(z.total_out > cut ? z.total_out - cut : 0);
  deflateEnd(&z);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  torch::set_num_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedsaf;
  fuzz::ByteReader in(data, size);
  const uint8_t flags = in.u8();
  const size_t split = in.u16();
  std::string images = in.string(split);
  std::string labels = in.rest();
  if (flags & 1) images = gzip(images, flags & 4 ? 7 : 0);
  if (flags & 2) labels = gzip(labels, 0);

  const std::string dir = fuzz::fresh_temp_dir();
  const std::string image_path = fuzz::write_file(dir, "images-idx3-ubyte", images);
  const std::string label_path = fuzz::write_file(dir, "labels-idx1-ubyte", labels);
  Dataset read;
  if (fuzz::accepts([&] { read = read_idx_pair(image_path, label_path); })) fuzz::check_dataset(read);
  return 0;
}
