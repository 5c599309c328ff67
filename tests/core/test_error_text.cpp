// The one-line text people see for an exception: file-system errors name the path first and drop
// the C++ library's decoration, allocation failures say what they mean, fedsaf's errors pass as is.
#include <gtest/gtest.h>

#include <filesystem>
#include <new>
#include <system_error>

#include "core/error_text.hpp"
#include "core/errors.hpp"

namespace fedsaf {
namespace {

namespace fs = std::filesystem;

TEST(ErrorText, AFileSystemErrorNamesThePathFirst) {
  const fs::filesystem_error one("cannot create directories", fs::path("/proc/x/y"),
                                 std::make_error_code(std::errc::permission_denied));
  EXPECT_EQ(error_text(one), "/proc/x/y: cannot create directories: Permission denied");
  const fs::filesystem_error two("cannot rename", fs::path("/a/b.tmp"), fs::path("/a/b"),
                                 std::make_error_code(std::errc::no_such_file_or_directory));
  EXPECT_EQ(error_text(two), "/a/b.tmp: cannot rename: No such file or directory (to /a/b)");
}

TEST(ErrorText, ARealFileSystemFailureReadsTheSameWay) {
  try {
    fs::create_directories("/proc/fedsaf-error-text/x");
    FAIL() << "expected a filesystem_error";
  } catch (const fs::filesystem_error& e) {
    const std::string text = error_text(e);
    EXPECT_EQ(text.rfind("/proc/fedsaf-error-text/x: ", 0), 0u) << text;
    EXPECT_EQ(text.find("filesystem error"), std::string::npos) << text;
    EXPECT_EQ(text.find('['), std::string::npos) << text;
  }
}

TEST(ErrorText, AllocationFailuresAndFedsafErrors) {
  EXPECT_EQ(error_text(std::bad_alloc()).rfind("out of memory: an allocation failed (std::bad_alloc)", 0), 0u);
  EXPECT_EQ(error_text(DataError("x.h5: truncated")), "x.h5: truncated");
}

}  // namespace
}  // namespace fedsaf
