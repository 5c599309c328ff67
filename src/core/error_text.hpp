#pragma once
// One line for any exception, for people: fedsaf's own errors as they are; a file-system error as
// "PATH: what failed: why" instead of the C++ library's "filesystem error: ...: why [PATH]"; an
// allocation failure as what it means.
#include <exception>
#include <string>

namespace fedsaf {

std::string error_text(const std::exception& e);

}  // namespace fedsaf
