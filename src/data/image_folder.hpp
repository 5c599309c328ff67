#pragma once
// Converts an image folder (one sub-folder per class, PNG/JPEG images, the layout of GasHisSDB)
// into a fedsaf HDF5 data set file: /x [N,C,H,W] uint8, /y [N] int64 with attribute class_names,
// and /manifest/{files, class, skipped}. Torch-free; the images are streamed to disk in blocks.
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace fedsaf {

struct ImageFolderOptions {
  int64_t height = 0;
  int64_t width = 0;
  bool grayscale = false;    // 1 channel instead of 3
  bool skip_errors = true;   // unreadable images: skip and report (true) or fail (false)
  bool force = false;        // overwrite an existing output file
  std::ostream* log = nullptr;   // progress lines (every ~1000 images); nullptr = quiet
  std::ostream* warn = nullptr;  // one line per skipped image; nullptr = quiet
};

struct ImageFolderSummary {
  std::vector<std::string> class_names;  // sub-folder names, sorted = label order
  std::vector<int64_t> images_per_class;  // images stored per class
  std::vector<std::string> skipped;       // unreadable images, relative to the folder
  std::vector<std::string> skip_reasons;  // why each was skipped (same order)
  int64_t ignored_files = 0;              // files without a PNG/JPEG extension
  int64_t images = 0;                     // images stored
  int64_t channels = 0;
};

// Throws DataError (bad folder, no images, unreadable image with skip_errors = false) or IoError
// (output exists without force, HDF5 failures). The output appears only when complete: it is
// written to `out + ".tmp"` and renamed; on failure the temporary file is removed.
ImageFolderSummary convert_image_folder(const std::string& dir, const std::string& out,
                                        const ImageFolderOptions& options);

// The summary printed by `fedsaf convert images` (images per class, skipped files).
void print_image_folder_summary(std::ostream& out, const ImageFolderSummary& summary, const std::string& out_path);

}  // namespace fedsaf
