// fedsaf: no-torch
#include "io/h5.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join ({fmt} ≥ 11 moved it here)

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <numeric>

#include "core/errors.hpp"

namespace fedsaf::h5 {

namespace {

// ---- layer 1: error reporting ------------------------------------------------------------------

herr_t remember_innermost(unsigned /*n*/, const H5E_error2_t* err, void* data) {
  auto* out = static_cast<std::string*>(data);
  if (out->empty() && err != nullptr && err->desc != nullptr && err->desc[0] != '\0') *out = err->desc;
  return 0;
}

// The innermost (most specific) message of the current HDF5 error stack, which is then cleared.
std::string innermost_error() {
  const hid_t stack = H5Eget_current_stack();
  if (stack < 0) return "no HDF5 error message";
  std::string message;
  H5Ewalk2(stack, H5E_WALK_UPWARD, remember_innermost, &message);  // upward = innermost first
  H5Eclose_stack(stack);
  return message.empty() ? "no HDF5 error message" : message;
}

// "file.h5:/path" for the object behind id (the file name comes from HDF5 itself).
std::string where(hid_t id, const std::string& path) {
  char name[4096] = {0};
  const ssize_t n = id >= 0 ? H5Fget_name(id, name, sizeof(name)) : -1;
  if (n <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return path;
  }
  return std::string(name) + ":" + path;
}

// The stack is read first: any later HDF5 call (H5Fget_name in where()) would clear it.
[[noreturn]] void fail(const std::string& object, const std::string& what) {
  const std::string stack = innermost_error();
  throw IoError(fmt::format("{}: {} (HDF5: {})", object, what, stack));
}
[[noreturn]] void fail_at(hid_t owner, const std::string& path, const std::string& what) {
  const std::string stack = innermost_error();
  throw IoError(fmt::format("{}: {} (HDF5: {})", where(owner, path), what, stack));
}

// Checks the result of one C call: negative (herr_t/hid_t/htri_t) is failure.
template <typename R>
R check(R result, hid_t owner, const std::string& path, const std::string& what) {
  if (result < 0) fail_at(owner, path, what);
  return result;
}

std::string join(const std::string& parent, const std::string& name) {
  if (!name.empty() && name.front() == '/') return name;
  if (parent.empty() || parent == "/") return "/" + name;
  return parent + "/" + name;
}

Handle string_type(bool variable, size_t size) {
  Handle t(H5Tcopy(H5T_C_S1));
  if (!t.valid()) fail("string type", "H5Tcopy failed");
  if (H5Tset_size(t.id(), variable ? H5T_VARIABLE : std::max<size_t>(size, 1)) < 0 ||
      H5Tset_cset(t.id(), H5T_CSET_UTF8) < 0 || (!variable && H5Tset_strpad(t.id(), H5T_STR_NULLPAD) < 0)) {
    fail("string type", "cannot build the string type");
  }
  return t;
}

// File (storage) type for each element type: little-endian, like numpy on every fedsaf machine.
hid_t file_type(DType t) {
  switch (t) {
    case DType::kU8: return H5T_STD_U8LE;
    case DType::kI32: return H5T_STD_I32LE;
    case DType::kI64: return H5T_STD_I64LE;
    case DType::kF32: return H5T_IEEE_F32LE;
    case DType::kF64: return H5T_IEEE_F64LE;
  }
  return H5T_NATIVE_DOUBLE;
}

int64_t product(const std::vector<int64_t>& dims, size_t from = 0) {
  int64_t n = 1;
  for (size_t i = from; i < dims.size(); ++i) n *= dims[i];
  return n;
}

std::vector<int64_t> extent(hid_t space, hid_t owner, const std::string& path) {
  const int rank = check(H5Sget_simple_extent_ndims(space), owner, path, "cannot read the shape");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) check(H5Sget_simple_extent_dims(space, dims.data(), nullptr), owner, path, "cannot read the shape");
  return std::vector<int64_t>(dims.begin(), dims.end());
}

// Dataset transfer properties: collective MPI-IO for parallel files, the default otherwise.
Handle transfer_plist(bool collective, hid_t owner, const std::string& path) {
  if (!collective) return Handle();
  Handle dxpl(check(H5Pcreate(H5P_DATASET_XFER), owner, path, "cannot create transfer properties"));
  check(H5Pset_dxpl_mpio(dxpl.id(), H5FD_MPIO_COLLECTIVE), owner, path, "cannot request collective I/O");
  return dxpl;
}
hid_t plist_or_default(const Handle& h) { return h.valid() ? h.id() : H5P_DEFAULT; }

// This process's rank in the communicator a parallel file was opened with.
int file_rank(hid_t object, const std::string& path) {
  Handle file(check(H5Iget_file_id(object), object, path, "cannot find the file"));
  Handle fapl(check(H5Fget_access_plist(file.id()), object, path, "cannot read file access properties"));
  MPI_Comm comm = MPI_COMM_NULL;
  MPI_Info info = MPI_INFO_NULL;
  check(H5Pget_fapl_mpio(fapl.id(), &comm, &info), object, path, "cannot read the file's communicator");
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_free(&comm);
  if (info != MPI_INFO_NULL) MPI_Info_free(&info);
  return rank;
}

// Reads a string data set or attribute (variable or fixed length) of `count` elements.
// read(memtype, buffer) performs the H5Dread/H5Aread.
template <typename ReadFn>
std::vector<std::string> read_string_values(hid_t ftype, hid_t space, size_t count, hid_t owner,
                                            const std::string& path, ReadFn read) {
  if (H5Tget_class(ftype) != H5T_STRING) {
    throw IoError(fmt::format("{}: not a string", where(owner, path)));
  }
  std::vector<std::string> out;
  out.reserve(count);
  if (count == 0) return out;
  const htri_t variable = check(H5Tis_variable_str(ftype), owner, path, "cannot inspect the string type");
  const H5T_cset_t cset = H5Tget_cset(ftype);
  if (variable) {
    Handle mem = string_type(true, 0);
    check(H5Tset_cset(mem.id(), cset), owner, path, "cannot build the string type");
    std::vector<char*> raw(count, nullptr);
    check(read(mem.id(), raw.data()), owner, path, "cannot read strings");
    for (char* s : raw) out.emplace_back(s != nullptr ? s : "");
    H5Dvlen_reclaim(mem.id(), space, H5P_DEFAULT, raw.data());
  } else {
    const size_t size = H5Tget_size(ftype);
    Handle mem(check(H5Tcopy(ftype), owner, path, "cannot copy the string type"));
    std::vector<char> raw(size * count, '\0');
    check(read(mem.id(), raw.data()), owner, path, "cannot read strings");
    const bool space_padded = H5Tget_strpad(ftype) == H5T_STR_SPACEPAD;
    for (size_t i = 0; i < count; ++i) {
      const char* s = raw.data() + i * size;
      size_t len = strnlen(s, size);
      if (space_padded) {
        while (len > 0 && s[len - 1] == ' ') --len;
      }
      out.emplace_back(s, len);
    }
  }
  return out;
}

}  // namespace

// ---- Handle -------------------------------------------------------------------------------------

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    close();
    id_ = o.id_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

namespace {
bool g_file_close_failed = false;
}  // namespace

bool file_close_failed() { return g_file_close_failed; }

Handle::~Handle() { close(); }

void Handle::close() noexcept {
  if (id_ < 0) return;
  // Each kind of identifier has its own close call; failures are ignored (destructors never throw).
  switch (H5Iget_type(id_)) {
    case H5I_FILE:
      if (H5Fclose(id_) < 0) g_file_close_failed = true;
      break;
    case H5I_GROUP: H5Gclose(id_); break;
    case H5I_DATASET: H5Dclose(id_); break;
    case H5I_DATASPACE: H5Sclose(id_); break;
    case H5I_DATATYPE: H5Tclose(id_); break;
    case H5I_ATTR: H5Aclose(id_); break;
    case H5I_GENPROP_LST: H5Pclose(id_); break;
    case H5I_ERROR_STACK: H5Eclose_stack(id_); break;
    default: H5Idec_ref(id_); break;
  }
  H5Eclear2(H5E_DEFAULT);
  id_ = H5I_INVALID_HID;
}

hid_t Handle::release() noexcept {
  const hid_t id = id_;
  id_ = H5I_INVALID_HID;
  return id;
}

// ---- types --------------------------------------------------------------------------------------

hid_t native_type(DType t) {
  switch (t) {
    case DType::kU8: return H5T_NATIVE_UINT8;
    case DType::kI32: return H5T_NATIVE_INT32;
    case DType::kI64: return H5T_NATIVE_INT64;
    case DType::kF32: return H5T_NATIVE_FLOAT;
    case DType::kF64: return H5T_NATIVE_DOUBLE;
  }
  return H5T_NATIVE_DOUBLE;
}

std::string dtype_name(DType t) {
  switch (t) {
    case DType::kU8: return "uint8";
    case DType::kI32: return "int32";
    case DType::kI64: return "int64";
    case DType::kF32: return "float32";
    case DType::kF64: return "float64";
  }
  return "unknown";
}

void unknown_dtype(DType t) {
  throw IoError(fmt::format("unknown element type (DType {})", static_cast<int>(t)));
}

void silence_hdf5_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// ---- Attributes ---------------------------------------------------------------------------------

bool Attributes::has(const std::string& name) const {
  return check(H5Aexists(owner_, name.c_str()), owner_, owner_name_, fmt::format("cannot look up attribute '{}'", name)) > 0;
}

namespace {

// Creates (replacing any old one) attribute `name` of type `type` and shape `space`, then writes it.
void write_attribute(hid_t owner, const std::string& owner_name, const std::string& name, hid_t type, hid_t space,
                     const void* data) {
  const std::string what = fmt::format("cannot write attribute '{}'", name);
  if (check(H5Aexists(owner, name.c_str()), owner, owner_name, what) > 0) {
    check(H5Adelete(owner, name.c_str()), owner, owner_name, what);
  }
  Handle attr(check(H5Acreate2(owner, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), owner, owner_name, what));
  check(H5Awrite(attr.id(), type, data), owner, owner_name, what);
}

Handle open_attribute(hid_t owner, const std::string& owner_name, const std::string& name) {
  const htri_t exists = check(H5Aexists(owner, name.c_str()), owner, owner_name,
                              fmt::format("cannot look up attribute '{}'", name));
  if (exists == 0) throw IoError(fmt::format("{}: no attribute '{}'", where(owner, owner_name), name));
  return Handle(check(H5Aopen(owner, name.c_str(), H5P_DEFAULT), owner, owner_name,
                      fmt::format("cannot open attribute '{}'", name)));
}

// Number of elements of an attribute; scalar = 1.
size_t attribute_size(hid_t attr, hid_t owner, const std::string& owner_name, const std::string& name) {
  Handle space(check(H5Aget_space(attr), owner, owner_name, fmt::format("cannot read attribute '{}'", name)));
  const hssize_t n = check(H5Sget_simple_extent_npoints(space.id()), owner, owner_name,
                           fmt::format("cannot read attribute '{}'", name));
  return static_cast<size_t>(n);
}

}  // namespace

void Attributes::set(const std::string& name, const std::string& value) {
  Handle type = string_type(true, 0);
  Handle space(H5Screate(H5S_SCALAR));
  const char* p = value.c_str();
  write_attribute(owner_, owner_name_, name, type.id(), space.id(), &p);
}

void Attributes::set(const std::string& name, int64_t value) {
  Handle space(H5Screate(H5S_SCALAR));
  Handle type(H5Tcopy(H5T_STD_I64LE));
  write_attribute(owner_, owner_name_, name, type.id(), space.id(), &value);
}

void Attributes::set(const std::string& name, double value) {
  Handle space(H5Screate(H5S_SCALAR));
  Handle type(H5Tcopy(H5T_IEEE_F64LE));
  write_attribute(owner_, owner_name_, name, type.id(), space.id(), &value);
}

void Attributes::set(const std::string& name, const std::vector<std::string>& values) {
  Handle type = string_type(true, 0);
  const hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr));
  std::vector<const char*> ptrs;
  ptrs.reserve(values.size());
  for (const auto& v : values) ptrs.push_back(v.c_str());
  static const char* const none = nullptr;  // HDF5 rejects a null buffer even for zero elements
  write_attribute(owner_, owner_name_, name, type.id(), space.id(), ptrs.empty() ? &none : ptrs.data());
}

std::string Attributes::get_string(const std::string& name) const {
  const std::vector<std::string> values = get_strings(name);
  if (values.size() != 1) {
    throw IoError(fmt::format("{}: attribute '{}' holds {} strings, expected one", where(owner_, owner_name_), name,
                              values.size()));
  }
  return values.front();
}

std::vector<std::string> Attributes::get_strings(const std::string& name) const {
  Handle attr = open_attribute(owner_, owner_name_, name);
  Handle type(check(H5Aget_type(attr.id()), owner_, owner_name_, fmt::format("cannot read attribute '{}'", name)));
  if (H5Tget_class(type.id()) != H5T_STRING) {
    throw IoError(fmt::format("{}: attribute '{}' is not a string", where(owner_, owner_name_), name));
  }
  Handle space(check(H5Aget_space(attr.id()), owner_, owner_name_, fmt::format("cannot read attribute '{}'", name)));
  const size_t n = attribute_size(attr.id(), owner_, owner_name_, name);
  return read_string_values(type.id(), space.id(), n, owner_, owner_name_ + "@" + name,
                            [&](hid_t mem, void* buf) { return H5Aread(attr.id(), mem, buf); });
}

namespace {
// Reads a one-element numeric attribute, converted by HDF5 to `mem`.
void read_number(hid_t owner, const std::string& owner_name, const std::string& name, hid_t mem, bool integer,
                 void* out) {
  Handle attr = open_attribute(owner, owner_name, name);
  Handle type(check(H5Aget_type(attr.id()), owner, owner_name, fmt::format("cannot read attribute '{}'", name)));
  const H5T_class_t cls = H5Tget_class(type.id());
  // An integer attribute may be read as a double, not the other way round (that would truncate).
  if (!(cls == H5T_INTEGER || (!integer && cls == H5T_FLOAT))) {
    throw IoError(fmt::format("{}: attribute '{}' is not {}", where(owner, owner_name), name,
                              integer ? "an integer" : "a number"));
  }
  const size_t n = attribute_size(attr.id(), owner, owner_name, name);
  if (n != 1) {
    throw IoError(fmt::format("{}: attribute '{}' holds {} values, expected one", where(owner, owner_name), name, n));
  }
  check(H5Aread(attr.id(), mem, out), owner, owner_name, fmt::format("cannot read attribute '{}'", name));
}
}  // namespace

int64_t Attributes::get_int(const std::string& name) const {
  int64_t v = 0;
  read_number(owner_, owner_name_, name, H5T_NATIVE_INT64, true, &v);
  return v;
}

double Attributes::get_double(const std::string& name) const {
  double v = 0;
  read_number(owner_, owner_name_, name, H5T_NATIVE_DOUBLE, false, &v);
  return v;
}

// ---- Dataset ------------------------------------------------------------------------------------

std::vector<int64_t> Dataset::shape() const {
  Handle space(check(H5Dget_space(id()), id(), path_, "cannot read the data space"));
  return extent(space.id(), id(), path_);
}

DType Dataset::dtype() const {
  Handle type(check(H5Dget_type(id()), id(), path_, "cannot read the element type"));
  const H5T_class_t cls = H5Tget_class(type.id());
  const size_t size = H5Tget_size(type.id());
  if (cls == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type.id()) == H5T_SGN_2;
    if (!is_signed && size == 1) return DType::kU8;
    if (is_signed && size == 4) return DType::kI32;
    if (is_signed && size == 8) return DType::kI64;
    throw IoError(fmt::format("{}: unsupported element type ({}signed {}-bit integer)", where(id(), path_),
                              is_signed ? "" : "un", 8 * size));
  }
  if (cls == H5T_FLOAT && size == 4) return DType::kF32;
  if (cls == H5T_FLOAT && size == 8) return DType::kF64;
  if (cls == H5T_STRING) throw IoError(fmt::format("{}: holds strings, not numbers", where(id(), path_)));
  throw IoError(fmt::format("{}: unsupported element type (HDF5 class {}, {} bytes)", where(id(), path_),
                            static_cast<int>(cls), size));
}

void Dataset::require_dtype(DType t, const char* access) const {
  const DType stored = dtype();
  if (t != stored)
    throw IoError(fmt::format("{}: stores {}, {} as {}", where(id(), path_), dtype_name(stored), access, dtype_name(t)));
}

void Dataset::read_all(DType t, void* out, int64_t count) const {
  require_dtype(t, "read");
  const int64_t n = product(shape());
  if (count != n) {
    throw IoError(fmt::format("{}: cannot read a data set of {} elements into {} values", where(id(), path_), n, count));
  }
  if (n == 0) return;
  Handle dxpl = transfer_plist(collective_, id(), path_);
  check(H5Dread(id(), native_type(t), H5S_ALL, H5S_ALL, plist_or_default(dxpl), out), id(), path_,
        fmt::format("cannot read as {}", dtype_name(t)));
}

void Dataset::write_all(DType t, const void* data, int64_t count) {
  require_dtype(t, "written");
  const int64_t n = product(shape());
  if (count != n) {
    throw IoError(fmt::format("{}: cannot write {} values into a data set of {} elements", where(id(), path_), count, n));
  }
  if (n == 0) return;
  Handle dxpl = transfer_plist(collective_, id(), path_);
  Handle file_space;
  Handle mem_space;
  hid_t fs = H5S_ALL, ms = H5S_ALL;
  // In a parallel file every rank holds the same data; rank 0 writes it, the others join the
  // collective call with an empty selection (overlapping collective writes are undefined).
  if (collective_ && file_rank(id(), path_) != 0) {
    file_space = Handle(check(H5Dget_space(id()), id(), path_, "cannot read the data space"));
    mem_space = Handle(check(H5Dget_space(id()), id(), path_, "cannot read the data space"));
    check(H5Sselect_none(file_space.id()), id(), path_, "cannot select");
    check(H5Sselect_none(mem_space.id()), id(), path_, "cannot select");
    fs = file_space.id();
    ms = mem_space.id();
  }
  check(H5Dwrite(id(), native_type(t), ms, fs, plist_or_default(dxpl), data), id(), path_,
        fmt::format("cannot write {}", dtype_name(t)));
}

template <typename T> std::vector<T> Dataset::read() const {
  std::vector<T> out(static_cast<size_t>(product(shape())));
  read(out.data(), static_cast<int64_t>(out.size()));
  return out;
}

template <typename T> void Dataset::write(const std::vector<T>& data) {
  write(data.data(), static_cast<int64_t>(data.size()));
}

namespace {
// Selects rows [row_begin, row_begin + rows) in the file and a matching memory space; rows = 0
// selects nothing (collective calls still need every rank).
struct RowSelection {
  Handle file_space;
  Handle mem_space;
};

RowSelection select_rows(hid_t dset, const std::string& path, int64_t row_begin, int64_t rows) {
  RowSelection sel;
  sel.file_space = Handle(check(H5Dget_space(dset), dset, path, "cannot read the data space"));
  const std::vector<int64_t> dims = extent(sel.file_space.id(), dset, path);
  if (dims.empty()) throw IoError(fmt::format("{}: row access on a scalar data set", where(dset, path)));
  if (row_begin < 0 || rows < 0 || row_begin + rows > dims[0]) {
    throw IoError(fmt::format("{}: rows [{}, {}) out of range (the data set has {} rows)", where(dset, path),
                              row_begin, row_begin + rows, dims[0]));
  }
  if (rows == 0) {
    const hsize_t one = 1;
    sel.mem_space = Handle(H5Screate_simple(1, &one, nullptr));
    check(H5Sselect_none(sel.file_space.id()), dset, path, "cannot select");
    check(H5Sselect_none(sel.mem_space.id()), dset, path, "cannot select");
    return sel;
  }
  std::vector<hsize_t> start(dims.size(), 0), count(dims.begin(), dims.end());
  start[0] = static_cast<hsize_t>(row_begin);
  count[0] = static_cast<hsize_t>(rows);
  check(H5Sselect_hyperslab(sel.file_space.id(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr), dset,
        path, "cannot select rows");
  sel.mem_space = Handle(check(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), dset, path,
                               "cannot create the memory space"));
  return sel;
}
}  // namespace

void Dataset::write_rows_as(DType t, int64_t row_begin, int64_t rows, const void* data) {
  require_dtype(t, "written");
  if (rows == 0 && !collective_) return;
  RowSelection sel = select_rows(id(), path_, row_begin, rows);
  Handle dxpl = transfer_plist(collective_, id(), path_);
  static const char dummy = 0;  // HDF5 rejects a null buffer even for an empty selection
  check(H5Dwrite(id(), native_type(t), sel.mem_space.id(), sel.file_space.id(), plist_or_default(dxpl),
                 data != nullptr ? data : &dummy),
        id(), path_, fmt::format("cannot write rows [{}, {}) as {}", row_begin, row_begin + rows, dtype_name(t)));
}

void Dataset::read_rows_as(DType t, int64_t row_begin, int64_t rows, void* out) const {
  require_dtype(t, "read");
  if (rows == 0 && !collective_) return;
  RowSelection sel = select_rows(id(), path_, row_begin, rows);
  Handle dxpl = transfer_plist(collective_, id(), path_);
  char dummy = 0;
  check(H5Dread(id(), native_type(t), sel.mem_space.id(), sel.file_space.id(), plist_or_default(dxpl),
                out != nullptr ? out : &dummy),
        id(), path_, fmt::format("cannot read rows [{}, {}) as {}", row_begin, row_begin + rows, dtype_name(t)));
}

void Dataset::write_points_as(DType t, const std::vector<std::vector<int64_t>>& points, const void* data) {
  require_dtype(t, "written");
  if (points.empty() && !collective_) return;
  Handle file_space(check(H5Dget_space(id()), id(), path_, "cannot read the data space"));
  const std::vector<int64_t> dims = extent(file_space.id(), id(), path_);
  std::vector<hsize_t> coords;
  coords.reserve(points.size() * dims.size());
  for (const auto& p : points) {
    bool inside = p.size() == dims.size();
    for (size_t d = 0; inside && d < dims.size(); ++d) inside = p[d] >= 0 && p[d] < dims[d];
    if (!inside) throw IoError(fmt::format("{}: point {} is outside the data set", where(id(), path_), fmt::join(p, ",")));
    coords.insert(coords.end(), p.begin(), p.end());
  }
  const hsize_t n = std::max<hsize_t>(points.size(), 1);
  Handle mem_space(check(H5Screate_simple(1, &n, nullptr), id(), path_, "cannot create the memory space"));
  if (points.empty()) {
    check(H5Sselect_none(file_space.id()), id(), path_, "cannot select");
    check(H5Sselect_none(mem_space.id()), id(), path_, "cannot select");
  } else {
    check(H5Sselect_elements(file_space.id(), H5S_SELECT_SET, points.size(), coords.data()), id(), path_,
          "cannot select points");
  }
  Handle dxpl = transfer_plist(collective_, id(), path_);
  static const char dummy[8] = {};  // HDF5 rejects a null buffer even for an empty selection
  check(H5Dwrite(id(), native_type(t), mem_space.id(), file_space.id(), plist_or_default(dxpl),
                 data != nullptr ? data : dummy),
        id(), path_, fmt::format("cannot write {} points as {}", points.size(), dtype_name(t)));
}

void Dataset::resize_rows(int64_t rows) {
  std::vector<int64_t> dims = shape();
  if (dims.empty() || rows < 0) {
    throw IoError(fmt::format("{}: cannot resize to {} rows", where(id(), path_), rows));
  }
  std::vector<hsize_t> new_dims(dims.begin(), dims.end());
  new_dims[0] = static_cast<hsize_t>(rows);
  check(H5Dset_extent(id(), new_dims.data()), id(), path_,
        fmt::format("cannot resize to {} rows (only data sets created with chunk_rows > 0 can grow)", rows));
}

void Dataset::resize(const std::vector<int64_t>& dims) {
  std::vector<hsize_t> new_dims(dims.begin(), dims.end());
  if (new_dims.size() != shape().size()) throw IoError(fmt::format("{}: cannot resize to another rank", where(id(), path_)));
  check(H5Dset_extent(id(), new_dims.data()), id(), path_,
        fmt::format("cannot resize to [{}] (only data sets created with chunk_rows > 0 can grow)", fmt::join(dims, ", ")));
}

// ---- Group --------------------------------------------------------------------------------------

std::vector<std::string> Group::children() const {
  std::vector<std::string> names;
  const auto collect = [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
  };
  check(H5Literate(id(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect, &names), -1, path_, "cannot list members");
  return names;
}

bool Group::is_group(const std::string& name) const {
  if (!exists(name)) return false;
  const Handle object(check(H5Oopen(id(), name.c_str(), H5P_DEFAULT), -1, path_ + "/" + name, "cannot open"));
  return H5Iget_type(object.id()) == H5I_GROUP;
}

bool Group::exists(const std::string& name) const {
  // H5Lexists fails (rather than answering false) when an intermediate group is missing, so walk
  // the path one component at a time.
  std::string prefix = !name.empty() && name.front() == '/' ? "/" : "";
  size_t pos = 0;
  bool any = false;
  while (pos <= name.size()) {
    const size_t next = std::min(name.find('/', pos), name.size());
    const std::string part = name.substr(pos, next - pos);
    pos = next + 1;
    if (part.empty()) continue;
    prefix += (prefix.empty() || prefix.back() == '/' ? "" : "/") + part;
    any = true;
    const htri_t found = check(H5Lexists(id(), prefix.c_str(), H5P_DEFAULT), id(), path_,
                               fmt::format("cannot look up '{}'", name));
    if (found == 0) return false;
  }
  return any;
}

namespace {
constexpr hsize_t kMaxChunkElements = hsize_t{1} << 20;  // 4 MiB of float32: HDF5's cache works in such sizes

Handle intermediate_groups_plist(hid_t owner, const std::string& path) {
  Handle lcpl(check(H5Pcreate(H5P_LINK_CREATE), owner, path, "cannot create link properties"));
  check(H5Pset_create_intermediate_group(lcpl.id(), 1), owner, path, "cannot set link properties");
  check(H5Pset_char_encoding(lcpl.id(), H5T_CSET_UTF8), owner, path, "cannot set link properties");
  return lcpl;
}
}  // namespace

void Group::remove(const std::string& name) {
  check(H5Ldelete(id(), name.c_str(), H5P_DEFAULT), id(), join(path_, name), "cannot remove");
}

Group Group::create_group(const std::string& name) {
  const std::string path = join(path_, name);
  Handle lcpl = intermediate_groups_plist(id(), path);
  Handle g(check(H5Gcreate2(id(), name.c_str(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT), id(), path,
                 "cannot create group"));
  return Group(std::move(g), path, collective_);
}

Group Group::open_group(const std::string& name) const {
  const std::string path = join(path_, name);
  if (!exists(name)) throw IoError(fmt::format("{}: no such group", where(id(), path)));
  Handle g(check(H5Gopen2(id(), name.c_str(), H5P_DEFAULT), id(), path, "cannot open group"));
  return Group(std::move(g), path, collective_);
}

Dataset Group::create_dataset(const std::string& name, DType t, const std::vector<int64_t>& shape,
                              int64_t chunk_rows) {
  const std::string path = join(path_, name);
  for (int64_t d : shape) {
    if (d < 0) throw IoError(fmt::format("{}: negative dimension in the shape", where(id(), path)));
  }
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle space;
  Handle dcpl(check(H5Pcreate(H5P_DATASET_CREATE), id(), path, "cannot create data set properties"));
  if (dims.empty()) {
    space = Handle(H5Screate(H5S_SCALAR));
  } else if (chunk_rows > 0) {
    // Every dimension may grow (e.g. /timing's rank columns on a resume with more ranks).
    std::vector<hsize_t> max_dims(dims.size(), H5S_UNLIMITED);
    std::vector<hsize_t> chunk(dims);
    chunk[0] = static_cast<hsize_t>(chunk_rows);
    for (auto& c : chunk) c = std::max<hsize_t>(c, 1);  // chunk dimensions must be positive
    // A chunk holds at most kMaxChunkElements (HDF5 refuses chunks of 2³² elements or more, e.g.
    // one 100,000 × 100,000 ξ matrix): the dimensions after the first are halved, from the
    // second on, until it fits.
    const auto elements = [&] {
      hsize_t n = 1;
      for (hsize_t c : chunk) n *= c;
      return n;
    };
    for (size_t d = 1; d < chunk.size(); ++d)
      while (elements() > kMaxChunkElements && chunk[d] > 1) chunk[d] = (chunk[d] + 1) / 2;
    space = Handle(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), max_dims.data()));
    check(H5Pset_chunk(dcpl.id(), static_cast<int>(chunk.size()), chunk.data()), id(), path, "cannot set chunking");
  } else {
    space = Handle(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  }
  if (!space.valid()) fail_at(id(), path, "cannot create the data space");
  Handle lcpl = intermediate_groups_plist(id(), path);
  Handle d(check(H5Dcreate2(id(), name.c_str(), file_type(t), space.id(), lcpl.id(), dcpl.id(), H5P_DEFAULT), id(),
                 path, fmt::format("cannot create data set ({})", dtype_name(t))));
  return Dataset(std::move(d), path, collective_);
}

Dataset Group::open_dataset(const std::string& name) const {
  const std::string path = join(path_, name);
  if (!exists(name)) throw IoError(fmt::format("{}: no such data set", where(id(), path)));
  Handle d(check(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), id(), path, "cannot open data set"));
  return Dataset(std::move(d), path, collective_);
}

template <typename T>
Dataset Group::write(const std::string& name, const std::vector<T>& data, std::vector<int64_t> shape) {
  if (shape.empty()) shape = {static_cast<int64_t>(data.size())};
  if (product(shape) != static_cast<int64_t>(data.size())) {
    throw IoError(fmt::format("{}: {} values do not fill the shape given", where(id(), join(path_, name)),
                              data.size()));
  }
  Dataset d = create_dataset(name, dtype_of<T>(), shape);
  d.write(data);
  return d;
}

Dataset Group::write_strings(const std::string& name, const std::vector<std::string>& values) {
  const std::string path = join(path_, name);
  const hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr));
  Handle lcpl = intermediate_groups_plist(id(), path);
  if (!collective_) {
    Handle type = string_type(true, 0);
    Handle d(check(H5Dcreate2(id(), name.c_str(), type.id(), space.id(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT), id(),
                   path, "cannot create string data set"));
    std::vector<const char*> ptrs;
    for (const auto& v : values) ptrs.push_back(v.c_str());
    if (!ptrs.empty()) {
      check(H5Dwrite(d.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), id(), path,
            "cannot write strings");
    }
    return Dataset(std::move(d), path, false);
  }
  // Parallel HDF5 1.10 cannot write variable-length data: fixed-length UTF-8, rank 0 writes.
  size_t longest = 1;
  for (const auto& v : values) longest = std::max(longest, v.size());
  Handle type = string_type(false, longest);
  Handle d(check(H5Dcreate2(id(), name.c_str(), type.id(), space.id(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT), id(),
                 path, "cannot create string data set"));
  Dataset dataset(std::move(d), path, true);
  if (n > 0) {
    std::vector<char> raw(longest * values.size(), '\0');
    for (size_t i = 0; i < values.size(); ++i) std::memcpy(raw.data() + i * longest, values[i].data(), values[i].size());
    Handle dxpl = transfer_plist(true, dataset.id(), path);
    Handle fs(check(H5Dget_space(dataset.id()), dataset.id(), path, "cannot read the data space"));
    Handle ms(check(H5Dget_space(dataset.id()), dataset.id(), path, "cannot read the data space"));
    if (file_rank(dataset.id(), path) != 0) {
      check(H5Sselect_none(fs.id()), dataset.id(), path, "cannot select");
      check(H5Sselect_none(ms.id()), dataset.id(), path, "cannot select");
    }
    check(H5Dwrite(dataset.id(), type.id(), ms.id(), fs.id(), dxpl.id(), raw.data()), dataset.id(), path,
          "cannot write strings");
  }
  return dataset;
}

std::vector<std::string> Group::read_strings(const std::string& name) const {
  Dataset d = open_dataset(name);
  Handle type(check(H5Dget_type(d.id()), d.id(), d.path(), "cannot read the element type"));
  Handle space(check(H5Dget_space(d.id()), d.id(), d.path(), "cannot read the data space"));
  const hssize_t n = check(H5Sget_simple_extent_npoints(space.id()), d.id(), d.path(), "cannot read the shape");
  Handle dxpl = transfer_plist(collective_, d.id(), d.path());
  return read_string_values(type.id(), space.id(), static_cast<size_t>(n), d.id(), d.path(), [&](hid_t mem, void* buf) {
    return H5Dread(d.id(), mem, H5S_ALL, H5S_ALL, plist_or_default(dxpl), buf);
  });
}

// ---- File ---------------------------------------------------------------------------------------

File::File(Handle h, std::string filename, bool collective)
    : Group(std::move(h), "/", collective), filename_(std::move(filename)) {}

namespace {

std::string mode_text(Mode mode) {
  switch (mode) {
    case Mode::kRead: return "cannot open for reading";
    case Mode::kReadWrite: return "cannot open for writing";
    case Mode::kCreate: return "cannot create";
    case Mode::kCreateExclusive: return "cannot create (exclusive)";
  }
  return "cannot open";
}

hid_t open_with(const std::string& filename, Mode mode, hid_t fapl) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool opening = mode == Mode::kRead || mode == Mode::kReadWrite;
  if (opening && !fs::exists(filename, ec)) throw IoError(fmt::format("{}: no such file", filename));
  if (mode == Mode::kCreateExclusive && fs::exists(filename, ec)) {
    throw IoError(fmt::format("{}: cannot create: the file already exists", filename));
  }
  if (opening && fs::is_directory(filename, ec)) throw IoError(fmt::format("{}: is a directory", filename));
  // A FIFO, device or socket would block HDF5's open (or truncate a device): only regular files.
  const fs::file_status status = fs::status(filename, ec);
  if (!ec && fs::exists(status) && !fs::is_regular_file(status) && !fs::is_directory(status))
    throw IoError(fmt::format("{}: not a regular file (a FIFO, device or socket); HDF5 files are read and written "
                              "as regular files",
                              filename));
  hid_t id = H5I_INVALID_HID;
  switch (mode) {
    case Mode::kRead: id = H5Fopen(filename.c_str(), H5F_ACC_RDONLY, fapl); break;
    case Mode::kReadWrite: id = H5Fopen(filename.c_str(), H5F_ACC_RDWR, fapl); break;
    case Mode::kCreate: id = H5Fcreate(filename.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl); break;
    case Mode::kCreateExclusive: id = H5Fcreate(filename.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl); break;
  }
  if (id < 0) {
    const std::string stack = innermost_error();
    std::string what = mode_text(mode);
    // HDF5's innermost message for a non-HDF5 file ("unable to locate file signature") is cryptic.
    if (opening && H5Fis_hdf5(filename.c_str()) <= 0) what += ": not an HDF5 file";
    H5Eclear2(H5E_DEFAULT);
    throw IoError(fmt::format("{}: {} (HDF5: {})", filename, what, stack));
  }
  return id;
}

}  // namespace

File File::open(const std::string& filename, Mode mode) {
  silence_hdf5_errors();
  return File(Handle(open_with(filename, mode, H5P_DEFAULT)), filename, false);
}

File File::open_parallel(const std::string& filename, Mode mode, MPI_Comm comm) {
  silence_hdf5_errors();
  Handle fapl(check(H5Pcreate(H5P_FILE_ACCESS), -1, filename, "cannot create file access properties"));
  check(H5Pset_fapl_mpio(fapl.id(), comm, MPI_INFO_NULL), -1, filename, "cannot select MPI-IO");
  // MPI-IO's default (semi) refuses to close a file while a Dataset or Group of it is still in
  // scope; strong closes them too, so File::close() and the destructor always finish the file.
  check(H5Pset_fclose_degree(fapl.id(), H5F_CLOSE_STRONG), -1, filename, "cannot set the close degree");
  return File(Handle(open_with(filename, mode, fapl.id())), filename, true);
}

void File::flush() {
  check(H5Fflush(id(), H5F_SCOPE_GLOBAL), -1, filename_, "cannot flush");
}

void File::close() {
  if (!h_.valid()) return;
  const hid_t id = h_.release();
  const herr_t status = H5Fclose(id);
  if (status < 0) g_file_close_failed = true;
  check(status, -1, filename_, "cannot close (a full disk, or data sets or groups of it still open?)");
}

// ---- explicit instantiations for the element types fedsaf stores ---------------------------------

#define FEDSAF_H5_INSTANTIATE(T)                                                      \
  template std::vector<T> Dataset::read<T>() const;                                   \
  template void Dataset::write<T>(const std::vector<T>&);                             \
  template Dataset Group::write<T>(const std::string&, const std::vector<T>&, std::vector<int64_t>);
FEDSAF_H5_INSTANTIATE(uint8_t)
FEDSAF_H5_INSTANTIATE(int32_t)
FEDSAF_H5_INSTANTIATE(int64_t)
FEDSAF_H5_INSTANTIATE(float)
FEDSAF_H5_INSTANTIATE(double)
#undef FEDSAF_H5_INSTANTIATE

}  // namespace fedsaf::h5
