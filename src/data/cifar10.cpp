// CIFAR-10, binary version: each record is 1 label byte and 3072 pixel bytes (the 32×32 red,
// green and blue planes, row-major), which is exactly the [3, 32, 32] layout of one sample. The
// file sizes give the record counts up front, so the whole set is one allocation and each file
// is read in big chunks straight from disk into it.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/errors.hpp"
#include "data/data_paths.hpp"
#include "data/dataset_registry.hpp"
#include "data/readers.hpp"

namespace fedsaf {

namespace {

namespace fs = std::filesystem;

constexpr int64_t kPixels = 3 * 32 * 32;
constexpr int64_t kRecord = 1 + kPixels;
constexpr int64_t kClasses = 10;
constexpr int64_t kChunkRecords = 1024;  // ~3 MiB per read

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw DataError(fmt::format("{}: {}", path, what));
}

// The numeric suffix of data_batch_<n>.bin, so data_batch_10 sorts after data_batch_9.
bool batch_less(const std::string& a, const std::string& b) {
  auto number = [](const std::string& s) {
    const std::string digits = s.substr(11, s.size() - 11 - 4);  // between "data_batch_" and ".bin"
    const bool numeric = !digits.empty() && digits.size() < 10 &&
                         std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); });
    return numeric ? std::stoll(digits) : -1;
  };
  const int64_t na = number(a), nb = number(b);
  return na != nb ? na < nb : a < b;
}

// Why `p` cannot be read as a batch file ("" when it is a regular file): absent, a folder, or
// something that is neither (a FIFO would block the reader forever, a device never ends).
std::string not_a_file(const fs::path& p) {
  std::error_code ec;
  const fs::file_status st = fs::status(p, ec);
  if (!fs::exists(st)) return "file not found";
  if (fs::is_directory(st)) return "is a folder, expected a CIFAR-10 batch file";
  if (!fs::is_regular_file(st)) return "not a regular file (a FIFO, socket or device), expected a CIFAR-10 batch file";
  return "";
}

// Every data_batch_*.bin (by number) then test_batch.bin present in dir.
std::vector<std::string> default_files(const fs::path& dir) {
  std::vector<std::string> batches;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string f = entry.path().filename().string();
    if (f.size() > 15 && f.rfind("data_batch_", 0) == 0 && f.compare(f.size() - 4, 4, ".bin") == 0) {
      batches.push_back(f);
    }
  }
  std::sort(batches.begin(), batches.end(), batch_less);
  std::error_code ec;
  if (fs::exists(dir / "test_batch.bin", ec)) batches.push_back("test_batch.bin");
  if (batches.empty()) bad(dir.string(), "no CIFAR-10 batch files (data_batch_*.bin, test_batch.bin)");
  return batches;
}

// Class names from batches.meta.txt (one per line; blank lines ignored), else the standard ones.
std::vector<std::string> class_names(const fs::path& dir) {
  const fs::path meta = dir / "batches.meta.txt";
  std::error_code ec;
  if (!fs::exists(meta, ec)) {
    return {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  }
  if (const std::string why = not_a_file(meta); !why.empty()) bad(meta.string(), why);
  std::ifstream in(meta);
  if (!in) bad(meta.string(), "cannot open");
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  if (static_cast<int64_t>(names.size()) != kClasses) {
    bad(meta.string(), fmt::format("expected {} class names (one per line), found {}", kClasses, names.size()));
  }
  return names;
}

}  // namespace

Dataset read_cifar10(const std::string& dir, const std::vector<std::string>& files) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) bad(dir, "folder not found (expected CIFAR-10 binary batches)");
  if (!fs::is_directory(dir, ec)) bad(dir, "is not a folder (data.path names the folder of the CIFAR-10 binary batches)");
  const fs::path root(dir);
  const std::vector<std::string> names = files.empty() ? default_files(root) : files;

  // Sizes first: validate every file before reading any, and allocate once.
  std::vector<fs::path> paths;
  std::vector<int64_t> records;
  int64_t total = 0;
  for (const std::string& f : names) {
    const fs::path p = root / f;  // an absolute f replaces root
    if (const std::string why = not_a_file(p); !why.empty()) bad(p.string(), why);
    const auto size = static_cast<int64_t>(fs::file_size(p, ec));
    if (ec) bad(p.string(), "cannot read the file size: " + ec.message());
    if (size == 0) bad(p.string(), "empty file (no records)");
    if (size % kRecord != 0) {
      bad(p.string(), fmt::format("truncated/corrupt: size {} is not a multiple of {} (1 label byte + {} pixels)", size,
                                  kRecord, kPixels));
    }
    paths.push_back(p);
    records.push_back(size / kRecord);
    total += size / kRecord;
  }

  Dataset data;
  data.name = "cifar10";
  data.x = torch::empty({total, 3, 32, 32}, torch::kUInt8);  // [N, 3, 32, 32]
  data.y = torch::empty({total}, torch::kInt64);             // [N]
  uint8_t* x = data.x.data_ptr<uint8_t>();
  int64_t* y = data.y.data_ptr<int64_t>();
  std::vector<char> chunk(static_cast<size_t>(kChunkRecords * kRecord));  // [records, 3073] raw bytes
  int64_t offset = 0;
  for (size_t i = 0; i < paths.size(); ++i) {
    std::ifstream in(paths[i], std::ios::binary);
    if (!in) bad(paths[i].string(), "cannot open");
    for (int64_t r = 0; r < records[i];) {
      const int64_t n = std::min(kChunkRecords, records[i] - r);
      if (!in.read(chunk.data(), n * kRecord)) {
        bad(paths[i].string(), fmt::format("read failed at record {} of {}", r, records[i]));
      }
      for (int64_t k = 0; k < n; ++k) {
        const auto* rec = reinterpret_cast<const uint8_t*>(chunk.data() + k * kRecord);
        if (rec[0] >= kClasses) {
          bad(paths[i].string(), fmt::format("record {}: label {} is out of range [0, {})", r + k, int{rec[0]}, kClasses));
        }
        y[offset] = rec[0];
        std::memcpy(x + offset * kPixels, rec + 1, kPixels);
        ++offset;
      }
      r += n;
    }
  }
  data.num_classes = kClasses;
  data.class_names = class_names(root);
  return data;
}

namespace {
// data.path empty: the binary batches extracted under data_root(), as the error below explains.
DatasetSource read_cifar10_config(const Config& c, const ReaderRanks&) {
  if (!c.data.path.empty()) return {read_cifar10(c.data.path, c.data.files), c.data.path};
  const std::string dir = data_root() + "/cifar-10-batches-bin";
  if (!std::filesystem::is_directory(dir))
    throw DataError(fmt::format(
        "{}: data.path is empty and the default CIFAR-10 folder {} does not exist: download the binary version "
        "(cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html) and extract it into {} "
        "(FEDSAF_DATA, default ~/fedsaf-data), or set data.path",
        c.source, dir, data_root()));
  return {read_cifar10(dir, c.data.files), dir};
}

const bool registered = datasets().add(
    {40, "cifar10", "(binary batches; data.path empty: $FEDSAF_DATA/cifar-10-batches-bin)"}, read_cifar10_config);
}  // namespace

}  // namespace fedsaf
