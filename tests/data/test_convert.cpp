// `fedsaf convert images`: an image folder with a corrupt file → the fedsaf HDF5 data set file.
// The C++ function is checked directly; the command line through the built binary.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "data/image_folder.hpp"
#include "data/readers.hpp"
#include "io/h5.hpp"
#include "tests/common/test_support.hpp"

namespace fs = std::filesystem;
using namespace fedsaf;

namespace {

struct Rgb {
  uint8_t r, g, b;
};

// A solid w × h PNG (or JPEG) of one colour.
void write_image(const fs::path& file, int w, int h, Rgb colour, bool jpeg = false) {
  std::vector<uint8_t> pixels;
  for (int i = 0; i < w * h; ++i) pixels.insert(pixels.end(), {colour.r, colour.g, colour.b});
  const int ok = jpeg ? stbi_write_jpg(file.c_str(), w, h, 3, pixels.data(), 100)
                      : stbi_write_png(file.c_str(), w, h, 3, pixels.data(), w * 3);
  ASSERT_NE(ok, 0) << file;
}

std::string slurp(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool contains(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

class ConvertTest : public ::testing::Test {
 protected:
  // images/
  //   b_normal/  n0.png (4x4, 200,100,50)  n1.png (2x3, 0,255,0)  corrupt.png  notes.txt
  //   a_tumour/  t0.png (4x4, 10,20,30)    t1.jpg (6x6, 90,90,90)
  // Folder names are deliberately not in creation order: labels follow the sorted names.
  void SetUp() override {
    images_ = dir_ / "images";
    fs::create_directories(images_ / "b_normal");
    fs::create_directories(images_ / "a_tumour");
    write_image(images_ / "b_normal" / "n0.png", 4, 4, {200, 100, 50});
    write_image(images_ / "b_normal" / "n1.png", 2, 3, {0, 255, 0});
    std::ofstream(images_ / "b_normal" / "corrupt.png") << "\x89PNG\r\n\x1a\n this is not really a png";
    std::ofstream(images_ / "b_normal" / "notes.txt") << "ignored";
    write_image(images_ / "a_tumour" / "t0.png", 4, 4, {10, 20, 30});
    write_image(images_ / "a_tumour" / "t1.jpg", 6, 6, {90, 90, 90}, /*jpeg=*/true);
  }
  std::string out(const std::string& name) const { return (dir_ / name).string(); }
  static ImageFolderOptions options(int64_t h, int64_t w) {
    ImageFolderOptions o;
    o.height = h;
    o.width = w;
    return o;
  }
  // Runs the fedsaf binary with args; returns the exit status, stdout and stderr in out_/err_.
  int run(const std::string& args) {
    const std::string cmd = std::string(FEDSAF_BINARY) + " " + args + " > " + (dir_ / "stdout.txt").string() +
                            " 2> " + (dir_ / "stderr.txt").string();
    const int status = std::system(cmd.c_str());
    stdout_ = slurp(dir_ / "stdout.txt");
    stderr_ = slurp(dir_ / "stderr.txt");
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  test::TempDir tmp_{"fedsaf-convert"};  // removed with the fixture
  fs::path dir_ = tmp_.path, images_;
  std::string stdout_, stderr_;
};

// The pixel of channel c at (0, 0) of sample i in a [N,C,H,W] buffer.
int pixel(const std::vector<uint8_t>& x, const std::vector<int64_t>& shape, int64_t i, int64_t c) {
  return x.at(static_cast<size_t>(((i * shape[1] + c) * shape[2]) * shape[3]));
}

}  // namespace

TEST_F(ConvertTest, SkipsCorruptImagesAndWritesEverything) {
  const std::string file = out("data.h5");
  std::ostringstream log, warn;
  ImageFolderOptions o = options(3, 5);
  o.log = &log;
  o.warn = &warn;
  const ImageFolderSummary s = convert_image_folder(images_.string(), file, o);

  EXPECT_EQ(s.class_names, (std::vector<std::string>{"a_tumour", "b_normal"}));
  EXPECT_EQ(s.images_per_class, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(s.images, 4);
  EXPECT_EQ(s.skipped, (std::vector<std::string>{"b_normal/corrupt.png"}));
  ASSERT_EQ(s.skip_reasons.size(), 1u);
  EXPECT_FALSE(s.skip_reasons[0].empty());
  EXPECT_EQ(s.ignored_files, 1);
  EXPECT_TRUE(contains(warn.str(), "corrupt.png")) << warn.str();
  EXPECT_TRUE(contains(log.str(), "converted 5/5 images (1 skipped)")) << log.str();
  EXPECT_FALSE(fs::exists(file + ".tmp"));

  h5::File f = h5::File::open(file, h5::Mode::kRead);
  const h5::Dataset x = f.open_dataset("x");
  EXPECT_EQ(x.dtype(), h5::DType::kU8);
  const std::vector<int64_t> shape = x.shape();
  ASSERT_EQ(shape, (std::vector<int64_t>{4, 3, 3, 5}));
  const std::vector<uint8_t> pixels = x.read<uint8_t>();
  // Sample order: a_tumour/t0.png, a_tumour/t1.jpg, b_normal/n0.png, b_normal/n1.png (CHW planes).
  EXPECT_NEAR(pixel(pixels, shape, 0, 0), 10, 1);
  EXPECT_NEAR(pixel(pixels, shape, 0, 1), 20, 1);
  EXPECT_NEAR(pixel(pixels, shape, 0, 2), 30, 1);
  EXPECT_NEAR(pixel(pixels, shape, 1, 1), 90, 3);  // JPEG is lossy
  EXPECT_NEAR(pixel(pixels, shape, 2, 0), 200, 1);
  EXPECT_NEAR(pixel(pixels, shape, 2, 1), 100, 1);
  EXPECT_NEAR(pixel(pixels, shape, 2, 2), 50, 1);
  EXPECT_NEAR(pixel(pixels, shape, 3, 1), 255, 1);  // upscaled from 2x3
  EXPECT_NEAR(pixel(pixels, shape, 3, 0), 0, 1);
  // Every pixel of a solid image stays that colour after resizing.
  for (int64_t p = 0; p < 15; ++p) ASSERT_NEAR(pixels[static_cast<size_t>(2 * 45 + p)], 200, 1) << p;

  const h5::Dataset y = f.open_dataset("y");
  EXPECT_EQ(y.dtype(), h5::DType::kI64);
  EXPECT_EQ(y.read<int64_t>(), (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(y.attrs().get_strings("class_names"), (std::vector<std::string>{"a_tumour", "b_normal"}));
  EXPECT_EQ(f.read_strings("manifest/files"),
            (std::vector<std::string>{"a_tumour/t0.png", "a_tumour/t1.jpg", "b_normal/n0.png", "b_normal/n1.png"}));
  EXPECT_EQ(f.open_dataset("manifest/class").read<int64_t>(), (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(f.read_strings("manifest/skipped"), (std::vector<std::string>{"b_normal/corrupt.png"}));
  EXPECT_EQ(f.attrs().get_int("channels"), 3);

  // The result is a valid fedsaf data set file.
  const Dataset d = read_hdf5_dataset(file);
  EXPECT_EQ(d.num_classes, 2);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"a_tumour", "b_normal"}));
  EXPECT_EQ(d.x.sizes(), (std::vector<int64_t>{4, 3, 3, 5}));
  EXPECT_EQ(d.y.sum().item<int64_t>(), 2);
}

TEST_F(ConvertTest, GrayscaleStoresOneLuminanceChannel) {
  const std::string file = out("gray.h5");
  ImageFolderOptions o = options(2, 2);
  o.grayscale = true;
  const ImageFolderSummary s = convert_image_folder(images_.string(), file, o);
  EXPECT_EQ(s.channels, 1);
  h5::File f = h5::File::open(file, h5::Mode::kRead);
  const std::vector<int64_t> shape = f.open_dataset("x").shape();
  ASSERT_EQ(shape, (std::vector<int64_t>{4, 1, 2, 2}));
  const std::vector<uint8_t> pixels = f.open_dataset("x").read<uint8_t>();
  // stb's luminance: (77 r + 150 g + 29 b) >> 8.
  EXPECT_NEAR(pixel(pixels, shape, 0, 0), (77 * 10 + 150 * 20 + 29 * 30) >> 8, 1);
  EXPECT_NEAR(pixel(pixels, shape, 2, 0), (77 * 200 + 150 * 100 + 29 * 50) >> 8, 1);
}

TEST_F(ConvertTest, FailModeNamesTheFileAndLeavesNothingBehind) {
  const std::string file = out("fail.h5");
  ImageFolderOptions o = options(4, 4);
  o.skip_errors = false;
  try {
    convert_image_folder(images_.string(), file, o);
    FAIL() << "no error for the corrupt image";
  } catch (const DataError& e) {
    EXPECT_TRUE(contains(e.what(), (images_ / "b_normal" / "corrupt.png").string())) << e.what();
    EXPECT_TRUE(contains(e.what(), "unreadable image")) << e.what();
  }
  EXPECT_FALSE(fs::exists(file));
  EXPECT_FALSE(fs::exists(file + ".tmp"));
}

TEST_F(ConvertTest, RefusesToOverwriteWithoutForce) {
  const std::string file = out("exists.h5");
  std::ofstream(file) << "precious";
  try {
    convert_image_folder(images_.string(), file, options(2, 2));
    FAIL() << "overwrote an existing file";
  } catch (const IoError& e) {
    EXPECT_TRUE(contains(e.what(), file)) << e.what();
    EXPECT_TRUE(contains(e.what(), "--force")) << e.what();
  }
  EXPECT_EQ(slurp(file), "precious");
  ImageFolderOptions o = options(2, 2);
  o.force = true;
  EXPECT_EQ(convert_image_folder(images_.string(), file, o).images, 4);
  EXPECT_EQ(h5::File::open(file, h5::Mode::kRead).open_dataset("y").shape(), (std::vector<int64_t>{4}));
}

// A conversion still running (or killed) leaves OUT.tmp: another conversion never truncates it,
// and does not remove it when it fails; --force replaces it.
TEST_F(ConvertTest, AnExistingTemporaryFileIsNeverTruncated) {
  const std::string file = out("data.h5");
  std::ofstream(file + ".tmp") << "another conversion's file";
  try {
    convert_image_folder(images_.string(), file, options(2, 2));
    FAIL() << "truncated " << file << ".tmp";
  } catch (const IoError& e) {
    EXPECT_TRUE(contains(e.what(), file + ".tmp: exists, left by another run of this command")) << e.what();
    EXPECT_TRUE(contains(e.what(), "--force")) << e.what();
  }
  EXPECT_EQ(slurp(file + ".tmp"), "another conversion's file");
  EXPECT_FALSE(fs::exists(file));
  ImageFolderOptions o = options(2, 2);
  o.force = true;
  EXPECT_EQ(convert_image_folder(images_.string(), file, o).images, 4);
  EXPECT_FALSE(fs::exists(file + ".tmp"));
}

// An OUT.tmp that is a folder is said to be one at once, with or without --force (issue 25 §8): it is
// no leftover of another conversion, and --force could not replace it.
TEST_F(ConvertTest, ATemporaryNameTakenByAFolderIsNamedAsAFolder) {
  const std::string file = out("data.h5");
  fs::create_directories(file + ".tmp/inside");
  for (const bool force : {false, true}) {
    ImageFolderOptions o = options(2, 2);
    o.force = force;
    try {
      convert_image_folder(images_.string(), file, o);
      FAIL() << "wrote past a folder named " << file << ".tmp";
    } catch (const IoError& e) {
      EXPECT_TRUE(contains(e.what(), file + ".tmp: is a folder, not a file name")) << e.what();
      EXPECT_FALSE(contains(e.what(), "another run of this command")) << e.what();
    }
  }
  EXPECT_TRUE(fs::is_directory(file + ".tmp/inside"));
  EXPECT_FALSE(fs::exists(file));
}

// Images in folders nested inside a class folder belong to that class (in path order); hidden
// folders are skipped.
TEST_F(ConvertTest, ImagesInNestedFoldersBelongToTheirClass) {
  fs::create_directories(images_ / "a_tumour" / "patient_2" / "slide_1");
  fs::create_directories(images_ / "a_tumour" / ".thumbnails");
  write_image(images_ / "a_tumour" / "patient_2" / "slide_1" / "s0.png", 4, 4, {1, 2, 3});
  write_image(images_ / "a_tumour" / "patient_2" / "p0.png", 4, 4, {4, 5, 6});
  write_image(images_ / "a_tumour" / ".thumbnails" / "t0.png", 4, 4, {7, 8, 9});
  const std::string file = out("nested.h5");
  const ImageFolderSummary s = convert_image_folder(images_.string(), file, options(2, 2));
  EXPECT_EQ(s.images_per_class, (std::vector<int64_t>{4, 2}));
  h5::File f = h5::File::open(file, h5::Mode::kRead);
  EXPECT_EQ(f.read_strings("manifest/files"),
            (std::vector<std::string>{"a_tumour/patient_2/p0.png", "a_tumour/patient_2/slide_1/s0.png", "a_tumour/t0.png",
                                      "a_tumour/t1.jpg", "b_normal/n0.png", "b_normal/n1.png"}));
}

TEST_F(ConvertTest, EmptyFoldersAreClearErrors) {
  fs::create_directories(images_ / "c_empty");
  try {
    convert_image_folder(images_.string(), out("e.h5"), options(2, 2));
    FAIL() << "no error for an empty class folder";
  } catch (const DataError& e) {
    EXPECT_TRUE(contains(e.what(), (images_ / "c_empty").string())) << e.what();
    EXPECT_TRUE(contains(e.what(), "no PNG/JPEG images")) << e.what();
  }
  fs::create_directories(dir_ / "nothing");
  try {
    convert_image_folder((dir_ / "nothing").string(), out("e.h5"), options(2, 2));
    FAIL() << "no error for a folder without classes";
  } catch (const DataError& e) {
    EXPECT_TRUE(contains(e.what(), "no class sub-folders")) << e.what();
  }
  EXPECT_THROW(convert_image_folder((dir_ / "missing").string(), out("e.h5"), options(2, 2)), DataError);
  EXPECT_THROW(convert_image_folder(images_.string(), out("e.h5"), options(0, 2)), ConfigError);
  EXPECT_FALSE(fs::exists(out("e.h5")));
}

TEST_F(ConvertTest, AClassOfOnlyUnreadableImagesIsAnError) {
  fs::create_directories(images_ / "c_broken");
  std::ofstream(images_ / "c_broken" / "x.jpg") << "garbage";
  try {
    convert_image_folder(images_.string(), out("b.h5"), options(2, 2));
    FAIL() << "no error for a class without readable images";
  } catch (const DataError& e) {
    EXPECT_TRUE(contains(e.what(), "every image of class 'c_broken' is unreadable")) << e.what();
  }
  EXPECT_FALSE(fs::exists(out("b.h5")));
  EXPECT_FALSE(fs::exists(out("b.h5.tmp")));
}

TEST_F(ConvertTest, CommandLineSkipAndSummary) {
  const std::string file = out("cli.h5");
  ASSERT_EQ(run("convert images " + images_.string() + " " + file + " --size 8 6"), 0) << stdout_ << stderr_;
  EXPECT_TRUE(contains(stderr_, "corrupt.png")) << stderr_;
  EXPECT_TRUE(contains(stdout_, "converted 5/5 images (1 skipped)")) << stdout_;
  EXPECT_TRUE(contains(stdout_, "4 images of 2 classes")) << stdout_;
  EXPECT_TRUE(contains(stdout_, "a_tumour")) << stdout_;
  EXPECT_TRUE(contains(stdout_, "skipped 1 unreadable image")) << stdout_;
  EXPECT_TRUE(contains(stdout_, "b_normal/corrupt.png")) << stdout_;
  h5::File f = h5::File::open(file, h5::Mode::kRead);
  EXPECT_EQ(f.open_dataset("x").shape(), (std::vector<int64_t>{4, 3, 8, 6}));

  // A second run refuses to overwrite; --force and --grayscale work.
  EXPECT_EQ(run("convert images " + images_.string() + " " + file + " --size 8 6"), 1);
  EXPECT_TRUE(contains(stderr_, "already exists")) << stderr_;
  EXPECT_EQ(run("convert images " + images_.string() + " " + file + " --size 4 4 --grayscale --force"), 0) << stderr_;
  EXPECT_EQ(h5::File::open(file, h5::Mode::kRead).open_dataset("x").shape(), (std::vector<int64_t>{4, 1, 4, 4}));
}

TEST_F(ConvertTest, CommandLineFailMode) {
  const std::string file = out("cli-fail.h5");
  EXPECT_EQ(run("convert images " + images_.string() + " " + file + " --size 8 8 --on-error fail"), 1);
  EXPECT_TRUE(contains(stderr_, "fedsaf: error:")) << stderr_;
  EXPECT_TRUE(contains(stderr_, "corrupt.png")) << stderr_;
  EXPECT_FALSE(fs::exists(file));
  EXPECT_FALSE(fs::exists(file + ".tmp"));
}

TEST_F(ConvertTest, CommandLineUsageErrors) {
  EXPECT_EQ(run("convert"), 2);  // the sub-subcommand is required
  EXPECT_EQ(run("convert images " + images_.string() + " " + out("u.h5") + " --size 8"), 2);
  EXPECT_EQ(run("convert images " + images_.string() + " " + out("u.h5") + " --size 8 8 --on-error maybe"), 2);
  EXPECT_FALSE(fs::exists(out("u.h5")));
}

TEST_F(ConvertTest, KeepsRowColumnAndChannelLayoutWithoutResizing) {
  // A 2-wide, 3-high image whose every byte differs; at its own size it is copied exactly, HWC → CHW.
  const fs::path folder = dir_ / "layout";
  fs::create_directories(folder / "only");
  std::vector<uint8_t> hwc(3 * 2 * 3);
  for (size_t i = 0; i < hwc.size(); ++i) hwc[i] = static_cast<uint8_t>(10 * i + 1);
  ASSERT_NE(stbi_write_png((folder / "only" / "img.png").c_str(), 2, 3, 3, hwc.data(), 2 * 3), 0);
  const std::string file = out("layout.h5");
  convert_image_folder(folder.string(), file, options(3, 2));
  h5::File f = h5::File::open(file, h5::Mode::kRead);
  ASSERT_EQ(f.open_dataset("x").shape(), (std::vector<int64_t>{1, 3, 3, 2}));
  const std::vector<uint8_t> chw = f.open_dataset("x").read<uint8_t>();
  for (int c = 0; c < 3; ++c) {
    for (int row = 0; row < 3; ++row) {
      for (int col = 0; col < 2; ++col) {
        EXPECT_EQ(chw[static_cast<size_t>((c * 3 + row) * 2 + col)], hwc[static_cast<size_t>((row * 2 + col) * 3 + c)])
            << c << " " << row << " " << col;
      }
    }
  }
}
