#pragma once
// Builds an HDF5 file from fuzz bytes through the HDF5 library, so that every file is well-formed
// HDF5 and the fuzzer explores what fedsaf checks (which objects exist, their shapes, element
// types, attributes and values), not libhdf5's own parser of damaged files (fuzz/README.md).
//
// The bytes are a list of operations, each naming its object and attribute by index into the
// target's tables (the names its reader looks up):
//   op % 6 = 0 group      object
//            1 dataset    object, type % 8 (u8 i32 i64 f32 f64 i8 u16 u64; bit 3: the first dimension
//                         extendible, as the run file's tables), rank % 5 (0: scalar),
//                         one byte per dimension (< 0xE0: itself; else 2^(b − 0xE0 + 12)), then
//                         the elements' bytes; more than 4096 elements: chunked and deflated,
//                         only the first chunk written, from 16 elements' bytes (the file stays
//                         small, the rest reads as zeros); 2^60 bytes or more: not written at all
//            2 int attr   object, attribute, type % 4 (i64 i32 u8 u64), count, 8 bytes per value
//            3 float attr object, attribute, type % 2 (f64 f32), count, 8 bytes per value
//            4 text attr  object, attribute, kind, count, strings (length byte % 48, bytes)
//            5 text data  object, kind, count, strings
// where count % 5 = 0 is a scalar and k > 0 a 1-D array of k − 1 values, and kind's bit 0 picks
// fixed-length strings (bit 1: space-padded), bit 2 ASCII instead of UTF-8. Operations that HDF5
// refuses (a data set where a group is) are skipped.
#include <string>
#include <vector>

#include "support/byte_reader.hpp"

namespace fedsaf::fuzz {

struct H5Names {
  std::vector<std::string> objects;     // paths of groups and data sets ("/" is added for attributes)
  std::vector<std::string> attributes;  // attribute names
};

// Creates path (truncating) and applies at most 64 operations read from spec.
void build_h5_file(const std::string& path, ByteReader& spec, const H5Names& names);

}  // namespace fedsaf::fuzz
