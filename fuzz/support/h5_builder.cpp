#include "support/h5_builder.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace fedsaf::fuzz {

namespace {

constexpr int kMaxOps = 64;
constexpr hsize_t kMaxWritten = 4096;      // elements of a data set written in full
constexpr size_t kHugeInputElements = 16;  // elements of a larger one's first chunk read from the input
constexpr size_t kMaxString = 48;

// Closes an HDF5 identifier of any kind on scope exit.
class Id {
 public:
  explicit Id(hid_t id) : id_(id) {}
  ~Id() {
    if (id_ >= 0) H5Idec_ref(id_);
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
};

class Builder {
 public:
  Builder(hid_t file, ByteReader& in, const H5Names& names) : file_(file), in_(in), names_(names) {
    H5Pset_create_intermediate_group(lcpl_.get(), 1);
  }

  void run() {
    for (int op = 0; op < kMaxOps && !in_.done(); ++op) {
      switch (in_.u8() % 6) {
        case 0: group(); break;
        case 1: dataset(); break;
        case 2: int_attribute(); break;
        case 3: float_attribute(); break;
        case 4: text_attribute(); break;
        case 5: text_dataset(); break;
      }
    }
  }

 private:
  const std::string& object() { return names_.objects[in_.u8() % names_.objects.size()]; }
  std::string attribute_owner() {
    const size_t i = in_.u8() % (names_.objects.size() + 1);
    return i == names_.objects.size() ? "/" : names_.objects[i];
  }
  const std::string& attribute() { return names_.attributes[in_.u8() % names_.attributes.size()]; }

  // count % 5: 0 = scalar, k = a 1-D array of k − 1 elements.
  hid_t space(hsize_t& n) {
    const int k = in_.u8() % 5;
    if (k == 0) {
      n = 1;
      return H5Screate(H5S_SCALAR);
    }
    n = static_cast<hsize_t>(k - 1);
    return H5Screate_simple(1, &n, nullptr);
  }

  void group() {
    const std::string& path = object();
    Id g(H5Gcreate2(file_, path.c_str(), lcpl_.get(), H5P_DEFAULT, H5P_DEFAULT));
  }

  void dataset() {
    static const hid_t types[] = {H5T_STD_U8LE,    H5T_STD_I32LE, H5T_STD_I64LE, H5T_IEEE_F32LE,
                                  H5T_IEEE_F64LE, H5T_STD_I8LE,  H5T_STD_U16LE, H5T_STD_U64LE};
    const std::string& path = object();
    const uint8_t type_byte = in_.u8();
    const hid_t type = types[type_byte % 8];
    const int rank = in_.u8() % 5;
    const bool extendible = (type_byte & 8) != 0 && rank > 0;  // rows that may grow, as the run file's tables
    std::vector<hsize_t> dims(static_cast<size_t>(rank));
    hsize_t total = 1;
    bool huge = false;
    for (hsize_t& d : dims) {
      const uint8_t b = in_.u8();
      d = b < 0xE0 ? b : hsize_t{1} << (b - 0xE0 + 12);
      if (d != 0 && total > kMaxWritten * 1024 / d) huge = true;  // keeps the product from overflowing
      total = huge ? total : total * d;
    }
    huge = huge || total > kMaxWritten;
    std::vector<hsize_t> max_dims = dims;
    if (extendible) max_dims[0] = H5S_UNLIMITED;
    Id sp(rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims.data(), max_dims.data()));
    Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
    // Large ones in deflated chunks of up to 64 Ki elements, of which only the first is written:
    // the file stays small, the data set still stores data, and the rest reads back as zeros.
    std::vector<hsize_t> chunk(dims.size(), 1);
    if (huge) {
      hsize_t budget = hsize_t{1} << 16;
      for (size_t i = dims.size(); i-- > 0;) {
        chunk[i] = std::max<hsize_t>(1, std::min(dims[i], budget));
        budget /= chunk[i];
      }
      H5Pset_chunk(dcpl.get(), rank, chunk.data());
      H5Pset_deflate(dcpl.get(), 1);
    } else if (extendible) {  // an extendible data set is chunked: one chunk holds it all
      std::vector<hsize_t> whole(dims.size());
      for (size_t i = 0; i < dims.size(); ++i) whole[i] = std::max<hsize_t>(1, dims[i]);
      H5Pset_chunk(dcpl.get(), rank, whole.data());
    }
    Id d(H5Dcreate2(file_, path.c_str(), type, sp.get(), lcpl_.get(), dcpl.get(), H5P_DEFAULT));
    // HDF5 1.10 creates a data set of 2^60 bytes or more but crashes writing into it (its element
    // count overflows): such a one is left unwritten, for the readers to meet as declared.
    long double bytes_declared = H5Tget_size(type);
    for (hsize_t dim : dims) bytes_declared *= dim;
    if (!d.ok() || total == 0 || bytes_declared >= 0x1p60L) return;
    hsize_t written = total;
    Id file_space(H5Dget_space(d.get()));
    if (huge) {
      written = 1;
      for (hsize_t c : chunk) written *= c;
      const std::vector<hsize_t> start(dims.size(), 0);
      H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, chunk.data(), nullptr);
    }
    Id memory_space(H5Screate_simple(1, &written, nullptr));
    std::vector<uint8_t> bytes(written * H5Tget_size(type));  // zeros past what the input gives
    in_.bytes(bytes.data(), huge ? std::min(bytes.size(), kHugeInputElements * H5Tget_size(type)) : bytes.size());
    H5Dwrite(d.get(), type, memory_space.get(), file_space.get(), H5P_DEFAULT, bytes.data());
  }

  // Opens the owner and replaces attribute `name` on it by one of `type` and `space`.
  template <class Write>
  void attribute(const std::string& owner, const std::string& name, hid_t type, hid_t space, Write write) {
    Id obj(H5Oopen(file_, owner.c_str(), H5P_DEFAULT));
    if (!obj.ok()) return;
    if (H5Aexists(obj.get(), name.c_str()) > 0) H5Adelete(obj.get(), name.c_str());
    Id a(H5Acreate2(obj.get(), name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT));
    if (a.ok()) write(a.get());
  }

  void int_attribute() {
    static const hid_t types[] = {H5T_STD_I64LE, H5T_STD_I32LE, H5T_STD_U8LE, H5T_STD_U64LE};
    const std::string owner = attribute_owner();
    const std::string& name = attribute();
    const hid_t type = types[in_.u8() % 4];
    hsize_t n = 0;
    Id sp(space(n));
    std::vector<int64_t> values(std::max<hsize_t>(n, 1));
    for (int64_t& v : values) v = in_.value<int64_t>();
    // Stored in `type`, converted from int64 by HDF5 (values out of range are clipped).
    attribute(owner, name, type, sp.get(), [&](hid_t a) { H5Awrite(a, H5T_NATIVE_INT64, values.data()); });
  }

  void float_attribute() {
    const std::string owner = attribute_owner();
    const std::string& name = attribute();
    const hid_t type = in_.u8() % 2 ? H5T_IEEE_F32LE : H5T_IEEE_F64LE;
    hsize_t n = 0;
    Id sp(space(n));
    std::vector<double> values(std::max<hsize_t>(n, 1));
    for (double& v : values) v = in_.value<double>();
    attribute(owner, name, type, sp.get(), [&](hid_t a) { H5Awrite(a, H5T_NATIVE_DOUBLE, values.data()); });
  }

  // A string type of kind (see the header) for values whose longest is `longest` bytes.
  static hid_t string_type(uint8_t kind, size_t longest) {
    const hid_t t = H5Tcopy(H5T_C_S1);
    if (kind & 1) {
      H5Tset_size(t, std::max<size_t>(longest, 1));
      H5Tset_strpad(t, kind & 2 ? H5T_STR_SPACEPAD : H5T_STR_NULLPAD);
    } else {
      H5Tset_size(t, H5T_VARIABLE);
    }
    H5Tset_cset(t, kind & 4 ? H5T_CSET_ASCII : H5T_CSET_UTF8);
    return t;
  }

  std::vector<std::string> strings(hsize_t n) {
    std::vector<std::string> out(std::max<hsize_t>(n, 1));
    for (std::string& s : out) s = in_.string(in_.u8() % kMaxString);
    return out;
  }

  // Writes strings through `write(type, buffer)` in the memory layout `kind` asks for.
  template <class Write>
  static void write_strings(uint8_t kind, const std::vector<std::string>& values, Write write) {
    size_t longest = 0;
    for (const std::string& s : values) longest = std::max(longest, s.size());
    Id type(string_type(kind, longest));
    if (kind & 1) {
      const size_t size = std::max<size_t>(longest, 1);
      std::vector<char> buf(size * values.size(), '\0');
      for (size_t i = 0; i < values.size(); ++i) std::copy(values[i].begin(), values[i].end(), buf.begin() + i * size);
      write(type.get(), buf.data());
    } else {
      std::vector<const char*> ptrs;
      for (const std::string& s : values) ptrs.push_back(s.c_str());
      write(type.get(), ptrs.data());
    }
  }

  void text_attribute() {
    const std::string owner = attribute_owner();
    const std::string& name = attribute();
    const uint8_t kind = in_.u8();
    hsize_t n = 0;
    Id sp(space(n));
    const std::vector<std::string> values = strings(n);
    write_strings(kind, values, [&](hid_t type, const void* buf) {
      attribute(owner, name, type, sp.get(), [&](hid_t a) { H5Awrite(a, type, buf); });
    });
  }

  void text_dataset() {
    const std::string& path = object();
    const uint8_t kind = in_.u8();
    hsize_t n = 0;
    Id sp(space(n));
    const std::vector<std::string> values = strings(n);
    write_strings(kind, values, [&](hid_t type, const void* buf) {
      Id d(H5Dcreate2(file_, path.c_str(), type, sp.get(), lcpl_.get(), H5P_DEFAULT, H5P_DEFAULT));
      if (d.ok() && n > 0) H5Dwrite(d.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    });
  }

  hid_t file_;
  ByteReader& in_;
  const H5Names& names_;
  Id lcpl_{H5Pcreate(H5P_LINK_CREATE)};
};

}  // namespace

void build_h5_file(const std::string& path, ByteReader& spec, const H5Names& names) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // refused operations are expected, and skipped
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) {
    std::fprintf(stderr, "fedsaf fuzz: cannot create %s\n", path.c_str());
    std::abort();
  }
  Builder(file, spec, names).run();
  H5Fclose(file);
  H5Eclear2(H5E_DEFAULT);
}

}  // namespace fedsaf::fuzz
