// fedsaf: no-torch
// `fedsaf convert images DIR OUT.h5 --size H W [--on-error skip|fail] [--grayscale] [--force]`:
// an image folder (one sub-folder per class) → a fedsaf HDF5 data set file.
#include <iostream>
#include <memory>

#include "app/commands.hpp"
#include "core/errors.hpp"
#include "data/image_folder.hpp"

namespace fedsaf::app {

namespace {

struct ImagesArgs {
  std::string dir;
  std::string out;
  std::vector<int64_t> size;
  std::string on_error = "skip";
  bool grayscale = false;
  bool force = false;
};

void add_images_command(CLI::App& convert) {
  auto args = std::make_shared<ImagesArgs>();
  CLI::App* cmd = convert.add_subcommand(
      "images",
      "Convert an image folder (one sub-folder of PNG/JPEG images per class, sorted by name = label order; images in "
      "folders nested inside a class folder belong to that class) into "
      "/x [N,C,H,W] uint8, /y [N] int64 (attribute class_names) and /manifest");
  cmd->add_option("DIR", args->dir, "Folder with one sub-folder per class")->required();
  cmd->add_option("OUT", args->out, "Output HDF5 file (written as OUT.tmp, then renamed; an existing OUT or OUT.tmp is refused without --force)")->required();
  cmd->add_option("--size", args->size, "Height and width every image is resized to")
      ->expected(2)
      ->required()
      ->type_name("H W");
  cmd->add_option("--on-error", args->on_error, "Unreadable images: skip (report and leave out) or fail")
      ->check(CLI::IsMember({"skip", "fail"}))
      ->capture_default_str();
  cmd->add_flag("--grayscale", args->grayscale, "Store 1 channel instead of 3 (RGB)");
  cmd->add_flag("--force", args->force, "Overwrite OUT if it exists, and replace an OUT.tmp left by a killed conversion");
  cmd->callback([args] {
    ImageFolderOptions options;
    options.height = args->size.at(0);
    options.width = args->size.at(1);
    options.grayscale = args->grayscale;
    options.skip_errors = args->on_error == "skip";
    options.force = args->force;
    options.log = &std::cout;
    options.warn = &std::cerr;
    const ImageFolderSummary summary = convert_image_folder(args->dir, args->out, options);
    print_image_folder_summary(std::cout, summary, args->out);
  });
}

}  // namespace

void add_convert_command(CLI::App& root) {
  CLI::App* convert = root.add_subcommand("convert", "Convert external data into a fedsaf HDF5 data set file");
  convert->require_subcommand(1);
  add_images_command(*convert);
}

}  // namespace fedsaf::app
