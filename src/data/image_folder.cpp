// fedsaf: no-torch
#include "data/image_folder.hpp"

// stb is compiled here (the only user), with internal linkage so it can clash with no other copy.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#include <stb/stb_image.h>
#define STB_IMAGE_RESIZE_STATIC
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb/stb_image_resize.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>

#include "core/errors.hpp"
#include "io/h5.hpp"
#include "io/output_file.hpp"

namespace fedsaf {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kProgressEvery = 1000;
constexpr int64_t kMaxSide = 16384;

struct ClassFolder {
  std::string name;
  std::vector<fs::path> images;  // sorted by file name
};

bool is_image(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

bool hidden(const fs::path& p) { return p.filename().string().rfind('.', 0) == 0; }

// Class sub-folders in name order (= label order) and their images in name order, so the output
// does not depend on the order the file system lists entries in.
std::vector<ClassFolder> scan(const fs::path& root, int64_t& ignored) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw DataError(fmt::format("{}: not a folder", root.string()));
  std::vector<ClassFolder> classes;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.is_directory() && !hidden(entry.path())) classes.push_back({entry.path().filename().string(), {}});
  }
  if (classes.empty()) {
    throw DataError(fmt::format("{}: no class sub-folders (expected one folder of PNG/JPEG images per class)",
                                root.string()));
  }
  std::sort(classes.begin(), classes.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  for (auto& c : classes) {
    // Images in nested folders belong to the class too (as in torchvision's ImageFolder); hidden
    // folders are skipped and folder links not followed, so a link loop cannot recurse forever.
    for (auto it = fs::recursive_directory_iterator(root / c.name); it != fs::recursive_directory_iterator(); ++it) {
      const fs::directory_entry& entry = *it;
      if (entry.is_directory() && hidden(entry.path())) {
        it.disable_recursion_pending();
        continue;
      }
      if (!entry.is_regular_file()) continue;
      // Hidden files include macOS "._name.png" resource forks, which are not images.
      if (is_image(entry.path()) && !hidden(entry.path())) {
        c.images.push_back(entry.path());
      } else {
        ++ignored;
      }
    }
    if (c.images.empty()) throw DataError(fmt::format("{}: no PNG/JPEG images in this class folder", (root / c.name).string()));
    std::sort(c.images.begin(), c.images.end());
  }
  return classes;
}

// Decodes one image to `channels` channels, resizes it to height × width and stores it as CHW in
// out. Returns "" on success, else why it failed.
std::string load_image(const fs::path& file, int channels, int height, int width, uint8_t* out) {
  int w = 0, h = 0, found = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load(file.c_str(), &w, &h, &found, channels),
                                                    stbi_image_free);
  if (!pixels) {
    const char* reason = stbi_failure_reason();
    return reason != nullptr ? reason : "cannot decode";
  }
  std::vector<stbi_uc> resized;
  const stbi_uc* hwc = pixels.get();
  if (w != width || h != height) {
    resized.resize(static_cast<size_t>(width) * height * channels);
    if (stbir_resize_uint8(pixels.get(), w, h, 0, resized.data(), width, height, 0, channels) == 0) {
      return fmt::format("cannot resize {}x{} to {}x{}", w, h, width, height);
    }
    hwc = resized.data();
  }
  const size_t plane = static_cast<size_t>(width) * height;
  for (int c = 0; c < channels; ++c) {
    for (size_t p = 0; p < plane; ++p) out[c * plane + p] = hwc[p * channels + c];
  }
  return "";
}

// Writes the whole data set file at `tmp`; every HDF5 handle is closed when it returns.
ImageFolderSummary write_file(const fs::path& root, const std::vector<ClassFolder>& classes, const std::string& tmp,
                              const ImageFolderOptions& options, ImageFolderSummary summary) {
  const int channels = options.grayscale ? 1 : 3;
  const int height = static_cast<int>(options.height), width = static_cast<int>(options.width);
  const int64_t image_bytes = int64_t{channels} * height * width;
  int64_t total = 0;
  for (const auto& c : classes) total += static_cast<int64_t>(c.images.size());

  h5::File file = h5::File::open(tmp, h5::Mode::kCreate);
  // Chunks of about 1 MiB; images are buffered and written in blocks of about 64 MiB.
  const int64_t chunk_rows = std::max<int64_t>(1, (int64_t{1} << 20) / image_bytes);
  const int64_t block_rows = std::clamp<int64_t>((int64_t{64} << 20) / image_bytes, 1, 1024);
  h5::Dataset x = file.create_dataset("x", h5::DType::kU8, {0, channels, height, width}, chunk_rows);
  std::vector<uint8_t> block(static_cast<size_t>(block_rows * image_bytes));
  int64_t in_block = 0;
  auto flush = [&] {
    if (in_block == 0) return;
    x.resize_rows(summary.images + in_block);
    x.write_rows(summary.images, in_block, block.data());
    summary.images += in_block;
    in_block = 0;
  };

  std::vector<int64_t> labels;
  std::vector<std::string> files;
  int64_t seen = 0;
  for (size_t label = 0; label < classes.size(); ++label) {
    const ClassFolder& c = classes[label];
    int64_t stored = 0;
    for (const fs::path& image : c.images) {
      const std::string relative = image.lexically_relative(root).generic_string();  // class/[nested/]name
      const std::string error = load_image(image, channels, height, width, block.data() + in_block * image_bytes);
      ++seen;
      if (!error.empty()) {
        if (!options.skip_errors) {
          throw DataError(fmt::format("{}: unreadable image ({}); use --on-error skip to leave it out", image.string(),
                                      error));
        }
        summary.skipped.push_back(relative);
        summary.skip_reasons.push_back(error);
        if (options.warn != nullptr) *options.warn << fmt::format("skipped {}: {}\n", image.string(), error);
      } else {
        labels.push_back(static_cast<int64_t>(label));
        files.push_back(relative);
        ++stored;
        if (++in_block == block_rows) flush();
      }
      if (options.log != nullptr && (seen % kProgressEvery == 0 || seen == total)) {
        *options.log << fmt::format("converted {}/{} images ({} skipped)\n", seen, total, summary.skipped.size())
                     << std::flush;
      }
    }
    if (stored == 0) {
      throw DataError(fmt::format("{}: every image of class '{}' is unreadable", (root / c.name).string(), c.name));
    }
    summary.images_per_class.push_back(stored);
  }
  flush();

  h5::Dataset y = file.write<int64_t>("y", labels);
  y.attrs().set("class_names", summary.class_names);
  h5::Group manifest = file.create_group("manifest");
  manifest.write_strings("files", files);
  manifest.write<int64_t>("class", labels);
  manifest.write_strings("skipped", summary.skipped);
  h5::Attributes attrs = file.attrs();
  attrs.set("created_by", "fedsaf convert images");
  attrs.set("source", fs::absolute(root).lexically_normal().string());
  attrs.set("channels", channels);
  attrs.set("height", height);
  attrs.set("width", width);
  return summary;
}

}  // namespace

ImageFolderSummary convert_image_folder(const std::string& dir, const std::string& out,
                                        const ImageFolderOptions& options) {
  if (options.height < 1 || options.width < 1 || options.height > kMaxSide || options.width > kMaxSide) {
    throw ConfigError(fmt::format("--size {} {}: height and width must be in [1, {}]", options.height, options.width,
                                  kMaxSide));
  }
  check_output_path(out, options.force, "OUT");
  ImageFolderSummary summary;
  const std::vector<ClassFolder> classes = scan(fs::path(dir), summary.ignored_files);
  for (const auto& c : classes) summary.class_names.push_back(c.name);
  summary.channels = options.grayscale ? 1 : 3;

  // Written under a temporary name and renamed, so OUT is never left half-written.
  const std::string tmp = claim_temporary(out, ".tmp", options.force);
  std::error_code ec;
  try {
    summary = write_file(fs::path(dir), classes, tmp, options, std::move(summary));
    fs::rename(tmp, out);
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  return summary;
}

void print_image_folder_summary(std::ostream& out, const ImageFolderSummary& summary, const std::string& out_path) {
  out << fmt::format("wrote {}: {} images of {} classes\n", out_path, summary.images, summary.class_names.size());
  size_t width = 5;
  for (const auto& name : summary.class_names) width = std::max(width, name.size());
  for (size_t c = 0; c < summary.class_names.size(); ++c) {
    out << fmt::format("  {:>3}  {:<{}}  {:>8} images\n", c, summary.class_names[c], width,
                       summary.images_per_class.at(c));
  }
  out << fmt::format("skipped {} unreadable image{}\n", summary.skipped.size(), summary.skipped.size() == 1 ? "" : "s");
  for (size_t i = 0; i < summary.skipped.size(); ++i) {
    out << fmt::format("  {} ({})\n", summary.skipped[i], summary.skip_reasons.at(i));
  }
  if (summary.ignored_files > 0) {
    out << fmt::format("ignored {} file{} that are not PNG/JPEG images\n", summary.ignored_files,
                       summary.ignored_files == 1 ? "" : "s");
  }
}

}  // namespace fedsaf
