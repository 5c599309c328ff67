#pragma once
// A thin RAII layer over the HDF5 C API (torch-free).
// Layer 1: every C call is checked; a failure throws IoError carrying the file/object name and
// the HDF5 error stack's innermost message. Layer 2: move-only handles whose destructors close
// and never throw. Parallel (MPI-IO) files are opened with a communicator; then every rank must
// make the same calls in the same order (collective metadata), and each writes its own rows.
#include <hdf5.h>
#include <mpi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace fedsaf::h5 {

// Owns one hid_t and closes it with the right H5*close.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle();
  hid_t id() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void close() noexcept;
  hid_t release() noexcept;  // gives up ownership without closing

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// Element types stored by fedsaf files.
enum class DType { kU8, kI32, kI64, kF32, kF64 };
hid_t native_type(DType t);
std::string dtype_name(DType t);

// The DType of each C++ element type; any other type does not compile.
template <typename T> struct DTypeOf;
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::kU8; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::kI32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::kI64; };
template <> struct DTypeOf<float> { static constexpr DType value = DType::kF32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::kF64; };
template <typename T> constexpr DType dtype_of() { return DTypeOf<T>::value; }

[[noreturn]] void unknown_dtype(DType t);  // throws IoError (a DType outside the enumerators)

// Calls f(T{}) with the element type T that t names, and returns what f returns. For code that
// learns the element type only at run time (a tensor's dtype, a data set of any type): it still
// goes through the typed I/O below, so every transfer is checked against the stored type.
template <typename F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::kU8: return f(uint8_t{});
    case DType::kI32: return f(int32_t{});
    case DType::kI64: return f(int64_t{});
    case DType::kF32: return f(float{});
    case DType::kF64: return f(double{});
  }
  unknown_dtype(t);
}

class Group;
class Dataset;

// Attributes on a file, group or data set.
class Attributes {
 public:
  explicit Attributes(hid_t owner, std::string owner_name) : owner_(owner), owner_name_(std::move(owner_name)) {}
  bool has(const std::string& name) const;
  void set(const std::string& name, const std::string& value);  // variable-length UTF-8 string
  void set(const std::string& name, int64_t value);
  void set(const std::string& name, double value);
  void set(const std::string& name, const std::vector<std::string>& values);
  // Without these, set(name, 5) or set(name, "text") would be ambiguous or surprising.
  void set(const std::string& name, const char* value) { set(name, std::string(value)); }
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  void set(const std::string& name, T value) { set(name, static_cast<int64_t>(value)); }
  std::string get_string(const std::string& name) const;
  int64_t get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  std::vector<std::string> get_strings(const std::string& name) const;

 private:
  hid_t owner_;
  std::string owner_name_;
};

class Dataset {
 public:
  // collective: the file was opened in parallel, so row I/O uses collective MPI-IO transfers.
  Dataset(Handle h, std::string path, bool collective = false)
      : h_(std::move(h)), path_(std::move(path)), collective_(collective) {}
  const std::string& path() const { return path_; }
  hid_t id() const { return h_.id(); }
  std::vector<int64_t> shape() const;
  DType dtype() const;  // throws IoError for a type fedsaf does not use
  // Bytes the file stores for this data set (allocated chunks, after any compression): a data
  // set declared far larger than this holds mostly unwritten fill values.
  uint64_t storage_bytes() const { return H5Dget_storage_size(id()); }
  Attributes attrs() const { return Attributes(h_.id(), path_); }

  // Typed I/O: T must be the element type the data set stores (dtype()), else IoError names the
  // data set and both types. HDF5 would convert silently (float64 written as int64 truncates), so
  // a caller whose type is known only at run time dispatches with visit_dtype instead.
  //
  // The whole data set (serial files, or collective where every rank passes the same data; rank 0
  // writes it). count must be its number of elements.
  template <typename T> std::vector<T> read() const;
  template <typename T> void write(const std::vector<T>& data);
  template <typename T> void read(T* out, int64_t count) const { read_all(dtype_of<T>(), out, count); }
  template <typename T> void write(const T* data, int64_t count) { write_all(dtype_of<T>(), data, count); }
  // Rows [row_begin, row_begin + rows) of a data set of shape [N, ...]; `data` holds
  // rows × (product of the other dims) elements. In parallel files this is collective: ranks
  // with nothing to write pass rows = 0.
  template <typename T> void write_rows(int64_t row_begin, int64_t rows, const T* data) {
    write_rows_as(dtype_of<T>(), row_begin, rows, data);
  }
  template <typename T> void read_rows(int64_t row_begin, int64_t rows, T* out) const {
    read_rows_as(dtype_of<T>(), row_begin, rows, out);
  }
  // Single elements at the given coordinates (each of the data set's rank), e.g. one rank's
  // entries of a row it shares with others. data holds points.size() elements. Collective in
  // parallel files: ranks with nothing to write pass no points.
  template <typename T> void write_points(const std::vector<std::vector<int64_t>>& points, const T* data) {
    write_points_as(dtype_of<T>(), points, data);
  }
  // Extendible data sets (created with max_rows = unlimited): grow the first dimension.
  void resize_rows(int64_t rows);
  void resize(const std::vector<int64_t>& dims);  // every dimension (same rank)
  bool collective() const { return collective_; }

 private:
  // The transfers behind the typed API, as the memory type t; each first checks t against dtype().
  void require_dtype(DType t, const char* access) const;
  void read_all(DType t, void* out, int64_t count) const;
  void write_all(DType t, const void* data, int64_t count);
  void write_rows_as(DType t, int64_t row_begin, int64_t rows, const void* data);
  void read_rows_as(DType t, int64_t row_begin, int64_t rows, void* out) const;
  void write_points_as(DType t, const std::vector<std::vector<int64_t>>& points, const void* data);
  Handle h_;
  std::string path_;
  bool collective_ = false;
};

class Group {
 public:
  Group(Handle h, std::string path, bool collective) : h_(std::move(h)), path_(std::move(path)), collective_(collective) {}
  const std::string& path() const { return path_; }
  hid_t id() const { return h_.id(); }
  Attributes attrs() const { return Attributes(h_.id(), path_); }
  bool exists(const std::string& name) const;  // a link (group or data set) named name
  std::vector<std::string> children() const;   // the names of its direct members, in name order
  bool is_group(const std::string& name) const;  // name exists and is a group (not a data set)
  void remove(const std::string& name);        // unlinks a group or data set (space is not reclaimed)
  Group create_group(const std::string& name);
  Group open_group(const std::string& name) const;
  // shape [N, ...]; chunk_rows > 0 makes the first dimension extendible (unlimited) with chunks
  // of chunk_rows rows (and of the other dimensions whole, or cut until a chunk holds ≤ 2²⁰
  // elements).
  Dataset create_dataset(const std::string& name, DType t, const std::vector<int64_t>& shape,
                         int64_t chunk_rows = 0);
  Dataset open_dataset(const std::string& name) const;
  // Convenience: create and write a whole 1-D or N-D data set in one call.
  template <typename T>
  Dataset write(const std::string& name, const std::vector<T>& data, std::vector<int64_t> shape = {});
  // Variable-length UTF-8 strings; in parallel files (where HDF5 1.10 cannot write variable-length
  // data) fixed-length UTF-8 strings of the longest value's size. read_strings reads both.
  Dataset write_strings(const std::string& name, const std::vector<std::string>& values);
  std::vector<std::string> read_strings(const std::string& name) const;

 protected:
  Handle h_;
  std::string path_;
  bool collective_ = false;
};

enum class Mode { kRead, kReadWrite, kCreate /* truncate */, kCreateExclusive };

class File : public Group {
 public:
  // Serial access (one process).
  static File open(const std::string& filename, Mode mode);
  // Parallel access through MPI-IO on `comm`; every rank of comm must call it.
  static File open_parallel(const std::string& filename, Mode mode, MPI_Comm comm);
  const std::string& filename() const { return filename_; }
  void flush();
  // Explicit close that reports errors (the destructor swallows them). A parallel file closes
  // "strong": its Groups and Datasets still in scope are closed too and must not be used after.
  void close();

 private:
  File(Handle h, std::string filename, bool collective);
  std::string filename_;
};

// Whether closing any file failed in this process (e.g. a full disk). HDF5 1.10 can then crash in
// the clean-up it runs inside MPI_Finalize (seen: SIGSEGV in H5F__close_cb), so the program should
// end without it once it has reported the error.
bool file_close_failed();

// Turns HDF5's automatic error printing off process-wide (fedsaf reports errors itself).
void silence_hdf5_errors();

}  // namespace fedsaf::h5
