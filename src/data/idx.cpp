// IDX files (MNIST, FashionMNIST): a 4-byte magic 0x0000TTDD (TT = data type, 0x08 = ubyte;
// DD = number of dimensions), DD big-endian uint32 dimensions, then the data, row-major. Files
// may be gzipped; zlib's gzread reads gzip and raw files alike, and the 1f 8b magic tells us which
// one we have, for the messages. Headers are parsed first, so the payload of every file lands
// directly in the one tensor that holds the whole set.
#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "core/errors.hpp"
#include "core/limits.hpp"
#include "data/data_paths.hpp"
#include "data/dataset_registry.hpp"
#include "data/readers.hpp"

namespace fedsaf {

namespace {

namespace fs = std::filesystem;

constexpr int kIdxUbyte = 0x08;
constexpr int64_t kIdxClasses = 10;  // MNIST and FashionMNIST
constexpr int64_t kMaxPayload = int64_t{1} << 40;  // 1 TiB: anything larger is a corrupt header
constexpr unsigned kGzBuffer = 1u << 20;
constexpr int64_t kReadChunk = int64_t{1} << 30;  // gzread takes an unsigned int length

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw DataError(fmt::format("{}: {}", path, what));
}

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

// One IDX file: the header is parsed on construction, the payload read by read_payload().
class IdxFile {
 public:
  // expected_dims: 3 for images, 1 for labels.
  IdxFile(std::string path, int expected_dims) : path_(std::move(path)) {
    std::error_code ec;
    if (!fs::exists(path_, ec)) bad(path_, "file not found");
    if (!fs::is_regular_file(path_, ec)) bad(path_, "not a regular file");
    gzipped_ = starts_with_gzip_magic();
    file_.reset(gzopen(path_.c_str(), "rb"));
    if (!file_) bad(path_, "cannot open");
    gzbuffer(file_.get(), kGzBuffer);

    const uint32_t expected_magic = static_cast<uint32_t>(kIdxUbyte << 8 | expected_dims);
    std::array<unsigned char, 4> magic{};
    const int64_t got = read(magic.data(), 4);
    if (got < 4) {
      bad(path_, fmt::format("truncated: expected at least a 4-byte IDX header, file has {} bytes{}", got, gz_note()));
    }
    const uint32_t found = be32(magic.data());
    if (magic[0] != 0 || magic[1] != 0) {
      bad(path_, fmt::format("bad magic 0x{:08x}, expected 0x{:08x} (IDX, ubyte, {} dims); not an IDX file", found,
                             expected_magic, expected_dims));
    }
    if (magic[2] != kIdxUbyte) {
      bad(path_, fmt::format("bad magic 0x{:08x}, expected 0x{:08x}: data type byte 0x{:02x} is not ubyte (0x08)",
                             found, expected_magic, magic[2]));
    }
    if (magic[3] != expected_dims) {
      bad(path_, fmt::format("bad magic 0x{:08x}, expected 0x{:08x}: {} dimensions, expected {} ({})", found,
                             expected_magic, magic[3], expected_dims, expected_dims == 3 ? "images" : "labels"));
    }

    std::vector<unsigned char> raw(4 * static_cast<size_t>(expected_dims));
    header_bytes_ = 4 + static_cast<int64_t>(raw.size());
    const int64_t got_dims = read(raw.data(), static_cast<int64_t>(raw.size()));
    if (got_dims < static_cast<int64_t>(raw.size())) {
      bad(path_, fmt::format("truncated: expected {} header bytes, file has {}{}", header_bytes_, 4 + got_dims,
                             gz_note()));
    }
    payload_bytes_ = 1;
    for (int i = 0; i < expected_dims; ++i) {
      const int64_t d = be32(&raw[4 * static_cast<size_t>(i)]);
      dims_.push_back(d);
      if (d == 0) bad(path_, fmt::format("header dimension {} is 0", i));
      if (payload_bytes_ > kMaxPayload / d) bad(path_, "header dimensions describe more than 1 TiB of data");
      payload_bytes_ *= d;
    }
    check_payload_fits_the_file();
  }

  const std::vector<int64_t>& dims() const { return dims_; }
  int64_t payload_bytes() const { return payload_bytes_; }
  const std::string& path() const { return path_; }

  // Reads exactly payload_bytes() into dst and checks that nothing follows.
  void read_payload(uint8_t* dst) {
    const int64_t expected = header_bytes_ + payload_bytes_;
    const int64_t got = read(dst, payload_bytes_);
    if (got < payload_bytes_) {
      bad(path_, fmt::format("truncated: header {} needs {} bytes, file has {}{}", shape_text(), expected,
                             header_bytes_ + got, gz_note()));
    }
    // Count whatever trails the data, in chunks.
    std::vector<unsigned char> scratch(1 << 16);
    int64_t extra = 0;
    for (int64_t n; (n = read(scratch.data(), static_cast<int64_t>(scratch.size()))) > 0;) extra += n;
    if (extra > 0) {
      bad(path_, fmt::format("trailing data: header {} needs {} bytes, file has {}{}", shape_text(), expected,
                             expected + extra, gz_note()));
    }
  }

 private:
  static int64_t be32(const unsigned char* p) {
    return static_cast<int64_t>(uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]});
  }

  bool starts_with_gzip_magic() const {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path_.c_str(), "rb"), &std::fclose);
    if (!f) bad(path_, "cannot open");
    unsigned char m[2] = {0, 0};
    return std::fread(m, 1, 2, f.get()) == 2 && m[0] == 0x1f && m[1] == 0x8b;
  }

  std::string gz_note() const { return gzipped_ ? " (after gunzip)" : ""; }

  // Before anything is allocated for the payload: a raw file must hold it all; a gzip file
  // cannot hold more than deflate's largest ratio (1032:1) times its own size.
  void check_payload_fits_the_file() const {
    std::error_code ec;
    const auto on_disk = static_cast<int64_t>(fs::file_size(path_, ec));
    if (ec) return;  // the reads say what is wrong
    const int64_t needed = header_bytes_ + payload_bytes_;
    if (!gzipped_ && needed > on_disk) {
      bad(path_, fmt::format("truncated: header {} needs {} bytes, file has {}", shape_text(), needed, on_disk));
    }
    if (gzipped_ && payload_bytes_ / limits::kDeflateMaxRatio > on_disk) {
      bad(path_, fmt::format("header {} needs {} bytes, more than a gzip file of {} bytes can hold", shape_text(), needed,
                             on_disk));
    }
  }

  std::string shape_text() const {
    std::string s = "[";
    for (size_t i = 0; i < dims_.size(); ++i) s += (i ? ", " : "") + std::to_string(dims_[i]);
    return s + "]";
  }

  // Reads up to n bytes; stops early only at the end of the data. A damaged gzip stream (bad
  // CRC, cut off mid-stream) is an error.
  int64_t read(void* dst, int64_t n) {
    int64_t done = 0;
    while (done < n) {
      const auto want = static_cast<unsigned>(std::min(n - done, kReadChunk));
      const int got = gzread(file_.get(), static_cast<unsigned char*>(dst) + done, want);
      if (got < 0) corrupt();
      if (got == 0) break;
      done += got;
    }
    int err = Z_OK;
    gzerror(file_.get(), &err);
    if (err != Z_OK) corrupt();
    return done;
  }

  [[noreturn]] void corrupt() {
    int err = Z_OK;
    const char* msg = gzerror(file_.get(), &err);
    if (err == Z_BUF_ERROR) bad(path_, "truncated gzip stream (unexpected end of file)");
    bad(path_, fmt::format("corrupt {}: {}", gzipped_ ? "gzip stream" : "file", msg ? msg : "read error"));
  }

  std::string path_;
  std::unique_ptr<gzFile_s, GzCloser> file_;
  bool gzipped_ = false;
  int64_t header_bytes_ = 0;
  int64_t payload_bytes_ = 0;
  std::vector<int64_t> dims_;
};

// Converts uint8 labels to int64, rejecting any >= num_classes.
void copy_labels(const std::string& path, const std::vector<uint8_t>& raw, int64_t* out) {
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] >= kIdxClasses) {
      bad(path, fmt::format("label {} at index {} is out of range [0, {})", int{raw[i]}, i, kIdxClasses));
    }
    out[i] = raw[i];
  }
}

// The file in dir named `base` or `base.gz`, raw preferred; DataError naming it when neither exists.
std::string find_idx(const fs::path& dir, const std::string& base) {
  std::error_code ec;
  if (fs::exists(dir / base, ec)) return (dir / base).string();
  if (fs::exists(dir / (base + ".gz"), ec)) return (dir / (base + ".gz")).string();
  bad(dir.string(), fmt::format("missing {0} (or {0}.gz)", base));
}

// Reads the (images, labels) pairs into one data set, in order.
Dataset read_idx_pairs(const std::vector<std::pair<std::string, std::string>>& pairs, const std::string& name) {
  std::vector<IdxFile> images, labels;
  int64_t total = 0;
  for (const auto& [image_path, label_path] : pairs) {
    images.emplace_back(image_path, 3);
    labels.emplace_back(label_path, 1);
    const IdxFile& im = images.back();
    const IdxFile& lb = labels.back();
    if (im.dims()[0] != lb.dims()[0]) {
      bad(im.path(), fmt::format("has {} images but {} has {} labels", im.dims()[0], lb.path(), lb.dims()[0]));
    }
    if (im.dims()[1] != images.front().dims()[1] || im.dims()[2] != images.front().dims()[2]) {
      bad(im.path(), fmt::format("images are {}x{} but {} has {}x{}", im.dims()[1], im.dims()[2],
                                 images.front().path(), images.front().dims()[1], images.front().dims()[2]));
    }
    total += im.dims()[0];
  }
  const int64_t h = images.front().dims()[1], w = images.front().dims()[2];
  Dataset data;
  data.name = name;
  data.x = torch::empty({total, 1, h, w}, torch::kUInt8);  // [N, 1, H, W]
  data.y = torch::empty({total}, torch::kInt64);           // [N]
  uint8_t* x = data.x.data_ptr<uint8_t>();
  int64_t* y = data.y.data_ptr<int64_t>();
  int64_t offset = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    const int64_t n = images[i].dims()[0];
    images[i].read_payload(x + offset * h * w);
    std::vector<uint8_t> raw(static_cast<size_t>(n));  // [n] labels as stored
    labels[i].read_payload(raw.data());
    copy_labels(labels[i].path(), raw, y + offset);
    offset += n;
  }
  data.num_classes = kIdxClasses;
  return data;
}

}  // namespace

Dataset read_idx_pair(const std::string& images_path, const std::string& labels_path) {
  Dataset data = read_idx_pairs({{images_path, labels_path}}, fs::path(images_path).filename().string());
  for (int64_t c = 0; c < kIdxClasses; ++c) data.class_names.push_back(std::to_string(c));
  return data;
}

Dataset read_idx_folder(const std::string& dir, const std::string& name) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) bad(dir, "folder not found (expected the IDX files train-*-ubyte and t10k-*-ubyte)");
  const fs::path d(dir);
  Dataset data = read_idx_pairs({{find_idx(d, "train-images-idx3-ubyte"), find_idx(d, "train-labels-idx1-ubyte")},
                                 {find_idx(d, "t10k-images-idx3-ubyte"), find_idx(d, "t10k-labels-idx1-ubyte")}},
                                name);
  if (name == "fashionmnist") {
    data.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                        "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  } else {
    for (int64_t c = 0; c < kIdxClasses; ++c) data.class_names.push_back(std::to_string(c));
  }
  return data;
}

namespace {
// Debian's dataset-fashion-mnist package installs it here.
constexpr const char* kDefaultFashionMnist = "/usr/share/datasets/fashion-mnist";

const bool fashionmnist = datasets().add(
    {20, "fashionmnist", "(IDX files; data.path empty: " + std::string(kDefaultFashionMnist) + ")"},
    [](const Config& c, const ReaderRanks&) {
      const std::string dir = c.data.path.empty() ? kDefaultFashionMnist : c.data.path;
      return DatasetSource{read_idx_folder(dir, "fashionmnist"), dir};
    });
const bool mnist = datasets().add({30, "mnist", "(IDX files in data.path)"}, [](const Config& c, const ReaderRanks&) {
  const std::string& dir = required_data_path(c, "the folder of the MNIST IDX files");
  return DatasetSource{read_idx_folder(dir, "mnist"), dir};
});
}  // namespace

}  // namespace fedsaf
