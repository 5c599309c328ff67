// fedsaf: no-torch
// The HDF5 RAII layer on serial files: round trips of every element type, attributes, strings,
// extendible data sets, typed row and point I/O (a type other than the stored one is refused),
// and error messages that name the file and object.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "io/h5.hpp"
#include "tests/common/test_support.hpp"

namespace fs = std::filesystem;
using namespace fedsaf;
using namespace fedsaf::h5;

namespace {

class H5Test : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  test::TempDir tmp_{"fedsaf-h5"};  // removed with the fixture
  fs::path dir_ = tmp_.path;
};

// The message of the IoError that f throws ("" when it throws nothing).
template <typename F>
std::string io_error(F&& f) {
  try {
    f();
  } catch (const IoError& e) {
    return e.what();
  }
  return "";
}

template <typename T>
void round_trip(Group& g, const std::string& name, const std::vector<T>& values, std::vector<int64_t> shape) {
  g.write(name, values, shape);
  Dataset d = g.open_dataset(name);
  EXPECT_EQ(d.dtype(), dtype_of<T>()) << name;
  EXPECT_EQ(d.shape(), shape) << name;
  EXPECT_EQ(d.read<T>(), values) << name;
}

}  // namespace

TEST_F(H5Test, RoundTripsEveryElementType) {
  const std::string file = path("types.h5");
  {
    File f = File::open(file, Mode::kCreate);
    round_trip<uint8_t>(f, "u8", {0, 1, 127, 255, 3, 4}, {2, 3});
    round_trip<int32_t>(f, "i32", {-2147483647 - 1, -1, 0, 2147483647}, {4});
    round_trip<int64_t>(f, "i64", {INT64_MIN, -5, 0, 7, INT64_MAX, 42}, {3, 2});
    round_trip<float>(f, "f32", {-1.5f, 0.0f, 3.25f, 1e-20f}, {2, 1, 2});
    round_trip<double>(f, "f64", {3.141592653589793, -2.0, 1e300}, {3});
    f.close();
  }
  // Reopened from disk: the stored types and values are unchanged.
  File f = File::open(file, Mode::kRead);
  EXPECT_EQ(f.filename(), file);
  EXPECT_EQ(f.open_dataset("u8").dtype(), DType::kU8);
  EXPECT_EQ(f.open_dataset("u8").read<uint8_t>(), (std::vector<uint8_t>{0, 1, 127, 255, 3, 4}));
  EXPECT_EQ(f.open_dataset("i32").dtype(), DType::kI32);
  EXPECT_EQ(f.open_dataset("i32").read<int32_t>()[0], INT32_MIN);
  EXPECT_EQ(f.open_dataset("i64").dtype(), DType::kI64);
  EXPECT_EQ(f.open_dataset("i64").read<int64_t>()[4], INT64_MAX);
  EXPECT_EQ(f.open_dataset("f32").dtype(), DType::kF32);
  EXPECT_EQ(f.open_dataset("f32").read<float>()[3], 1e-20f);
  EXPECT_EQ(f.open_dataset("f64").dtype(), DType::kF64);
  EXPECT_EQ(f.open_dataset("f64").read<double>(), (std::vector<double>{3.141592653589793, -2.0, 1e300}));
  EXPECT_EQ(f.open_dataset("f64").shape(), (std::vector<int64_t>{3}));
}

TEST_F(H5Test, DtypeNamesAndNativeTypes) {
  EXPECT_EQ(dtype_name(DType::kU8), "uint8");
  EXPECT_EQ(dtype_name(DType::kI32), "int32");
  EXPECT_EQ(dtype_name(DType::kI64), "int64");
  EXPECT_EQ(dtype_name(DType::kF32), "float32");
  EXPECT_EQ(dtype_name(DType::kF64), "float64");
  EXPECT_TRUE(H5Tequal(native_type(DType::kF32), H5T_NATIVE_FLOAT) > 0);
  EXPECT_TRUE(H5Tequal(native_type(DType::kI64), H5T_NATIVE_INT64) > 0);
}

TEST_F(H5Test, PointerIoAndEmptyDataSets) {
  File f = File::open(path("raw.h5"), Mode::kCreate);
  Dataset d = f.create_dataset("raw", DType::kF32, {2, 2});
  const float in[4] = {1, 2, 3, 4};
  d.write(in, 4);
  float out[4] = {0, 0, 0, 0};
  d.read(out, 4);
  EXPECT_EQ(std::vector<float>(out, out + 4), std::vector<float>(in, in + 4));
  // A count other than the data set's size is refused both ways, with both numbers.
  std::string count_msg = io_error([&] { d.read(out, 3); });
  EXPECT_NE(count_msg.find("/raw: cannot read a data set of 4 elements into 3 values"), std::string::npos) << count_msg;
  count_msg = io_error([&] { d.write(in, 5); });
  EXPECT_NE(count_msg.find("/raw: cannot write 5 values into a data set of 4 elements"), std::string::npos) << count_msg;
  Dataset empty = f.write<int64_t>("empty", {});
  EXPECT_EQ(empty.shape(), (std::vector<int64_t>{0}));
  EXPECT_TRUE(f.open_dataset("empty").read<int64_t>().empty());
  // A vector that does not fill the data set is refused, naming it.
  const std::string msg = io_error([&] { d.write(std::vector<float>{1, 2, 3}); });
  EXPECT_NE(msg.find("/raw"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3 values"), std::string::npos) << msg;
}

TEST_F(H5Test, AttributesOfEachKind) {
  const std::string file = path("attrs.h5");
  {
    File f = File::open(file, Mode::kCreate);
    f.attrs().set("text", std::string("héllo wörld"));
    f.attrs().set("literal", "plain");
    f.attrs().set("count", int64_t{-12345678901});
    f.attrs().set("small", 7);  // int → int64
    f.attrs().set("ratio", 0.125);
    f.attrs().set("names", std::vector<std::string>{"cat", "dog", ""});
    f.attrs().set("none", std::vector<std::string>{});
    Group g = f.create_group("metrics/eval");
    g.attrs().set("best", 0.75);
    Dataset d = g.write<double>("acc", {0.5, 0.75});
    d.attrs().set("unit", "fraction");
    // Setting again replaces the value (and may change its type).
    f.attrs().set("ratio", 0.5);
    f.attrs().set("small", "now a string");
  }
  File f = File::open(file, Mode::kRead);
  const Attributes a = f.attrs();
  EXPECT_TRUE(a.has("text"));
  EXPECT_FALSE(a.has("missing"));
  EXPECT_EQ(a.get_string("text"), "héllo wörld");
  EXPECT_EQ(a.get_string("literal"), "plain");
  EXPECT_EQ(a.get_int("count"), -12345678901);
  EXPECT_EQ(a.get_double("count"), -12345678901.0);  // an integer may be read as a double
  EXPECT_EQ(a.get_double("ratio"), 0.5);
  EXPECT_EQ(a.get_string("small"), "now a string");
  EXPECT_EQ(a.get_strings("names"), (std::vector<std::string>{"cat", "dog", ""}));
  EXPECT_TRUE(a.get_strings("none").empty());
  EXPECT_EQ(a.get_strings("text"), (std::vector<std::string>{"héllo wörld"}));
  EXPECT_EQ(f.open_group("metrics/eval").attrs().get_double("best"), 0.75);
  EXPECT_EQ(f.open_group("metrics").open_group("eval").open_dataset("acc").attrs().get_string("unit"), "fraction");

  // Wrong kinds and missing attributes name the file, the object and the attribute.
  std::string msg = io_error([&] { a.get_int("ratio"); });
  EXPECT_NE(msg.find("'ratio'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not an integer"), std::string::npos) << msg;
  msg = io_error([&] { a.get_string("count"); });
  EXPECT_NE(msg.find("not a string"), std::string::npos) << msg;
  msg = io_error([&] { a.get_string("names"); });
  EXPECT_NE(msg.find("3 strings"), std::string::npos) << msg;
  msg = io_error([&] { f.open_dataset("metrics/eval/acc").attrs().get_double("nope"); });
  EXPECT_NE(msg.find(file), std::string::npos) << msg;
  EXPECT_NE(msg.find("/metrics/eval/acc"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no attribute 'nope'"), std::string::npos) << msg;
}

TEST_F(H5Test, StringDataSets) {
  const std::string file = path("strings.h5");
  const std::vector<std::string> values{"class_a/img 001.png", "", "ünïcode/ß.jpg", std::string(300, 'x')};
  {
    File f = File::open(file, Mode::kCreate);
    f.write_strings("manifest/files", values);
    f.write_strings("manifest/empty", {});
  }
  File f = File::open(file, Mode::kRead);
  EXPECT_EQ(f.read_strings("manifest/files"), values);
  EXPECT_TRUE(f.read_strings("manifest/empty").empty());
  EXPECT_EQ(f.open_dataset("manifest/files").shape(), (std::vector<int64_t>{4}));
  // Variable-length UTF-8, as h5py writes str.
  Dataset d = f.open_dataset("manifest/files");
  Handle type(H5Dget_type(d.id()));
  EXPECT_GT(H5Tis_variable_str(type.id()), 0);
  EXPECT_EQ(H5Tget_cset(type.id()), H5T_CSET_UTF8);
  // Numbers are not strings and strings are not numbers.
  std::string msg = io_error([&] { d.dtype(); });
  EXPECT_NE(msg.find("strings"), std::string::npos) << msg;
}

TEST_F(H5Test, ReadsFixedLengthStrings) {
  // Files from other tools (and fedsaf's parallel files) may hold fixed-length strings.
  const std::string file = path("fixed.h5");
  {
    File f = File::open(file, Mode::kCreate);
    Handle type(H5Tcopy(H5T_C_S1));
    H5Tset_size(type.id(), 5);
    H5Tset_strpad(type.id(), H5T_STR_NULLPAD);
    const hsize_t n = 2;
    Handle space(H5Screate_simple(1, &n, nullptr));
    Handle d(H5Dcreate2(f.id(), "fixed", type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    ASSERT_TRUE(d.valid());
    const char raw[10] = {'a', 'b', 0, 0, 0, 'h', 'e', 'l', 'l', 'o'};
    ASSERT_GE(H5Dwrite(d.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, raw), 0);
  }
  File f = File::open(file, Mode::kRead);
  EXPECT_EQ(f.read_strings("fixed"), (std::vector<std::string>{"ab", "hello"}));
}

// A row too big for one chunk (HDF5 refuses chunks of 2³² elements: one ξ row of a 100,000-client
// run is 10¹⁰) is cut into chunks; rows still write and read whole.
TEST_F(H5Test, RowsBiggerThanAChunkAreChunkedAcrossTheirOtherDimensions) {
  const std::string file = path("big_rows.h5");
  {
    File f = File::open(file, Mode::kCreate);
    EXPECT_NO_THROW(f.create_dataset("xi_100k", DType::kF32, {0, 100000, 100000}, /*chunk_rows=*/1));
    Dataset d = f.create_dataset("xi", DType::kF32, {0, 1500, 1500}, /*chunk_rows=*/1);  // 2.25 M elements a row
    std::vector<float> row(1500 * 1500);
    for (size_t i = 0; i < row.size(); ++i) row[i] = static_cast<float>(i % 9973);
    d.resize_rows(1);
    d.write_rows(0, 1, row.data());
  }
  File f = File::open(file, Mode::kRead);
  const std::vector<float> back = f.open_dataset("xi").read<float>();
  ASSERT_EQ(back.size(), size_t{1500 * 1500});
  for (size_t i = 0; i < back.size(); i += 7919) EXPECT_EQ(back[i], static_cast<float>(i % 9973)) << i;
  EXPECT_EQ(f.open_dataset("xi_100k").shape(), (std::vector<int64_t>{0, 100000, 100000}));
}

TEST_F(H5Test, ExtendibleDataSetsGrowAndRowIo) {
  const std::string file = path("grow.h5");
  {
    File f = File::open(file, Mode::kCreate);
    Dataset d = f.create_dataset("x", DType::kI32, {0, 3}, /*chunk_rows=*/2);
    EXPECT_EQ(d.shape(), (std::vector<int64_t>{0, 3}));
    std::vector<int32_t> rows0{1, 2, 3, 4, 5, 6};
    d.resize_rows(2);
    d.write_rows(0, 2, rows0.data());
    std::vector<int32_t> rows1{7, 8, 9, 10, 11, 12, 13, 14, 15};
    d.resize_rows(5);
    d.write_rows(2, 3, rows1.data());
    d.write_rows<int32_t>(5, 0, nullptr);  // zero rows: a no-op
    EXPECT_EQ(d.shape(), (std::vector<int64_t>{5, 3}));
  }
  File f = File::open(file, Mode::kReadWrite);
  Dataset d = f.open_dataset("x");
  std::vector<int32_t> all = d.read<int32_t>();
  ASSERT_EQ(all.size(), 15u);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(all[i], i + 1);
  std::vector<int32_t> middle(6, -1);
  d.read_rows(1, 2, middle.data());
  EXPECT_EQ(middle, (std::vector<int32_t>{4, 5, 6, 7, 8, 9}));
  // Shrinking works too.
  d.resize_rows(1);
  EXPECT_EQ(d.read<int32_t>(), (std::vector<int32_t>{1, 2, 3}));
  // Rows beyond the end are refused with the range and the size.
  std::string msg = io_error([&] { d.read_rows(0, 2, middle.data()); });
  EXPECT_NE(msg.find("rows [0, 2) out of range"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1 rows"), std::string::npos) << msg;
  // A fixed-size data set cannot grow; HDF5's reason is in the message.
  Dataset fixed = f.create_dataset("fixed", DType::kF64, {2});
  msg = io_error([&] { fixed.resize_rows(4); });
  EXPECT_NE(msg.find("/fixed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cannot resize to 4 rows"), std::string::npos) << msg;
  EXPECT_NE(msg.find("HDF5: "), std::string::npos) << msg;
}

namespace {

// Every typed entry point (whole data set, pointer, rows, points) on one element type: an
// extendible [rows, 2] data set of T, written and read back after reopening the file.
template <typename T>
void typed_round_trip(const std::string& file, const std::vector<T>& v) {  // v: 6 distinct values
  {
    File f = File::open(file, Mode::kCreate);
    Dataset d = f.create_dataset("t", dtype_of<T>(), {0, 2}, /*chunk_rows=*/2);
    d.resize_rows(3);
    d.write_rows(0, 2, v.data());                                      // rows 0 and 1
    d.write_points(std::vector<std::vector<int64_t>>{{2, 1}, {2, 0}}, &v[4]);  // row 2, reversed
    Dataset whole = f.create_dataset("whole", dtype_of<T>(), {3});
    whole.write(v.data() + 1, 3);
  }
  const File f = File::open(file, Mode::kRead);
  const Dataset d = f.open_dataset("t");
  EXPECT_EQ(d.dtype(), dtype_of<T>());
  EXPECT_EQ(d.read<T>(), (std::vector<T>{v[0], v[1], v[2], v[3], v[5], v[4]})) << dtype_name(dtype_of<T>());
  std::vector<T> row(2);
  d.read_rows(1, 1, row.data());
  EXPECT_EQ(row, (std::vector<T>{v[2], v[3]})) << dtype_name(dtype_of<T>());
  std::vector<T> whole(3);
  f.open_dataset("whole").read(whole.data(), 3);
  EXPECT_EQ(whole, (std::vector<T>{v[1], v[2], v[3]})) << dtype_name(dtype_of<T>());
}

}  // namespace

TEST_F(H5Test, TypedRowsPointsAndPointersRoundTripEveryElementType) {
  typed_round_trip<uint8_t>(path("u8.h5"), {0, 1, 127, 128, 254, 255});
  typed_round_trip<int32_t>(path("i32.h5"), {INT32_MIN, -7, 0, 1, 65536, INT32_MAX});
  typed_round_trip<int64_t>(path("i64.h5"), {INT64_MIN, -(int64_t{1} << 40), -1, 3, int64_t{1} << 53, INT64_MAX});
  typed_round_trip<float>(path("f32.h5"), {-1.5f, 0.0f, 1e-30f, 3.25f, 16777216.0f, -0.1f});
  typed_round_trip<double>(path("f64.h5"), {-1e300, -0.1, 0.0, 1.0 / 3.0, 9007199254740993.0, 1e-300});
}

TEST_F(H5Test, VisitDtypeCallsWithTheNamedElementType) {
  for (DType t : {DType::kU8, DType::kI32, DType::kI64, DType::kF32, DType::kF64})
    EXPECT_EQ(visit_dtype(t, [](auto zero) { return dtype_of<decltype(zero)>(); }), t) << dtype_name(t);
}

TEST_F(H5Test, AnElementTypeOtherThanTheStoredOneIsRefusedNamingBoth) {
  const std::string file = path("mismatch.h5");
  File f = File::open(file, Mode::kCreate);
  Dataset loss = f.create_dataset("metrics/rounds/train_loss", DType::kF64, {0}, /*chunk_rows=*/4);
  loss.resize_rows(2);
  const std::vector<double> stored{0.5, 0.25};
  loss.write_rows(0, 2, stored.data());
  const std::vector<int64_t> ints{7, 8};
  std::vector<int64_t> int_out(2);
  std::vector<float> float_out(2);
  const std::string written = "/metrics/rounds/train_loss: stores float64, written as int64";
  const std::vector<std::pair<std::string, std::function<void()>>> cases = {
      {written, [&] { loss.write_rows(0, 2, ints.data()); }},
      {written, [&] { loss.write_points(std::vector<std::vector<int64_t>>{{1}}, ints.data()); }},
      {written, [&] { loss.write(ints); }},
      {written, [&] { loss.write(ints.data(), 2); }},
      {written, [&] { loss.write_rows<int64_t>(2, 0, nullptr); }},  // even with nothing to write
      {"/metrics/rounds/train_loss: stores float64, read as float32", [&] { loss.read_rows(0, 2, float_out.data()); }},
      {"/metrics/rounds/train_loss: stores float64, read as int64", [&] { loss.read<int64_t>(); }},
      {"/metrics/rounds/train_loss: stores float64, read as int64", [&] { loss.read(int_out.data(), 2); }},
  };
  for (const auto& [expected, call] : cases) {
    const std::string msg = io_error(call);
    EXPECT_NE(msg.find(expected), std::string::npos) << "expected: " << expected << "\ngot: " << msg;
    EXPECT_NE(msg.find(file), std::string::npos) << msg;
  }
  // Nothing was written or converted on the way.
  EXPECT_EQ(loss.read<double>(), stored);
  EXPECT_EQ(int_out, (std::vector<int64_t>{0, 0}));
  // Same size, other kind: int32 stored, read as float32.
  Dataset counts = f.write<int32_t>("counts", {1, 2});
  const std::string msg = io_error([&] { counts.read<float>(); });
  EXPECT_NE(msg.find("/counts: stores int32, read as float32"), std::string::npos) << msg;
}

TEST_F(H5Test, GroupsAndExists) {
  File f = File::open(path("groups.h5"), Mode::kCreate);
  EXPECT_FALSE(f.exists("a"));
  EXPECT_FALSE(f.exists("a/b/c"));  // missing intermediate groups answer false, not an error
  Group c = f.create_group("a/b/c");
  EXPECT_EQ(c.path(), "/a/b/c");
  EXPECT_TRUE(f.exists("a"));
  EXPECT_TRUE(f.exists("a/b/c"));
  EXPECT_TRUE(f.exists("/a/b"));
  Dataset d = c.write<int64_t>("v", {1, 2});
  EXPECT_EQ(d.path(), "/a/b/c/v");
  EXPECT_TRUE(f.open_group("a").exists("b/c/v"));
  EXPECT_FALSE(f.exists("a/b/c/w"));
  const std::string msg = io_error([&] { f.open_group("a/x"); });
  EXPECT_NE(msg.find("/a/x"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no such group"), std::string::npos) << msg;
  // Creating an existing name fails with HDF5's reason.
  EXPECT_NE(io_error([&] { f.create_group("a"); }).find("cannot create group"), std::string::npos);
}

TEST_F(H5Test, OpeningAMissingFileNamesIt) {
  const std::string file = path("does-not-exist.h5");
  const std::string msg = io_error([&] { File::open(file, Mode::kRead); });
  EXPECT_NE(msg.find(file), std::string::npos) << msg;
  EXPECT_NE(msg.find("no such file"), std::string::npos) << msg;
}

TEST_F(H5Test, OpeningANonHdf5FileNamesIt) {
  const std::string file = path("text.h5");
  std::ofstream(file) << "this is not HDF5\n";
  const std::string msg = io_error([&] { File::open(file, Mode::kRead); });
  EXPECT_NE(msg.find(file), std::string::npos) << msg;
  EXPECT_NE(msg.find("not an HDF5 file"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(HDF5: "), std::string::npos) << msg;  // the innermost stack message
  EXPECT_EQ(msg.find("(HDF5: no HDF5 error message)"), std::string::npos) << msg;
}

TEST_F(H5Test, AFifoIsRefusedInEveryModeWithoutBlocking) {
  const std::string file = path("fifo.h5");
  ASSERT_EQ(mkfifo(file.c_str(), 0600), 0);
  for (Mode mode : {Mode::kRead, Mode::kReadWrite, Mode::kCreate}) {
    const std::string msg = io_error([&] { File::open(file, mode); });
    EXPECT_NE(msg.find(file + ": not a regular file (a FIFO, device or socket)"), std::string::npos) << msg;
  }
  EXPECT_TRUE(fs::is_fifo(file)) << "left as it was";
}

TEST_F(H5Test, MissingDataSetNamesItsPath) {
  const std::string file = path("missing.h5");
  File f = File::open(file, Mode::kCreate);
  f.create_group("g");
  const std::string msg = io_error([&] { f.open_dataset("g/x"); });
  EXPECT_NE(msg.find(file + ":/g/x"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no such data set"), std::string::npos) << msg;
  EXPECT_NE(io_error([&] { f.read_strings("nothing"); }).find("/nothing"), std::string::npos);
}

TEST_F(H5Test, CreateExclusiveOnAnExistingFileFails) {
  const std::string file = path("exists.h5");
  { File::open(file, Mode::kCreate).write<double>("keep", {1.0}); }
  const std::string msg = io_error([&] { File::open(file, Mode::kCreateExclusive); });
  EXPECT_NE(msg.find(file), std::string::npos) << msg;
  EXPECT_NE(msg.find("already exists"), std::string::npos) << msg;
  // The existing file is untouched; kCreate truncates it.
  EXPECT_EQ(File::open(file, Mode::kRead).open_dataset("keep").read<double>(), (std::vector<double>{1.0}));
  { File::open(file, Mode::kCreate); }
  EXPECT_FALSE(File::open(file, Mode::kRead).exists("keep"));
  // Exclusive creation of a new file works.
  File fresh = File::open(path("fresh.h5"), Mode::kCreateExclusive);
  EXPECT_TRUE(fs::exists(path("fresh.h5")));
}

TEST_F(H5Test, WritingToAReadOnlyFileCarriesHdf5Reason) {
  const std::string file = path("ro.h5");
  { File::open(file, Mode::kCreate); }
  File f = File::open(file, Mode::kRead);
  const std::string msg = io_error([&] { f.write<int32_t>("x", {1}); });
  EXPECT_NE(msg.find(file + ":/x"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cannot create data set"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("(HDF5: no HDF5 error message)"), std::string::npos) << msg;
}

TEST_F(H5Test, HandlesMoveAndClose) {
  File f = File::open(path("move.h5"), Mode::kCreate);
  Dataset d = f.write<int32_t>("d", {1});
  Handle a(H5Dopen2(f.id(), "d", H5P_DEFAULT));
  ASSERT_TRUE(a.valid());
  Handle b(std::move(a));
  EXPECT_FALSE(a.valid());
  EXPECT_TRUE(b.valid());
  const hid_t id = b.id();
  b.close();
  EXPECT_FALSE(b.valid());
  EXPECT_LE(H5Iis_valid(id), 0);  // really closed
  b.close();                       // closing twice is harmless
  f.flush();
  EXPECT_GT(fs::file_size(path("move.h5")), 0u);
}
