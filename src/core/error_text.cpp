// fedsaf: no-torch
#include "core/error_text.hpp"

#include <filesystem>
#include <new>

namespace fedsaf {

namespace {

// libstdc++ writes "filesystem error: " + what failed + ": " + why + " [path1]" + " [path2]".
std::string filesystem_text(const std::filesystem::filesystem_error& e) {
  std::string text = e.what();
  const std::string prefix = "filesystem error: ";
  if (text.rfind(prefix, 0) == 0) text.erase(0, prefix.size());
  for (const auto* p : {&e.path2(), &e.path1()}) {
    const std::string tail = " [" + p->string() + "]";
    if (!p->empty() && text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0)
      text.erase(text.size() - tail.size());
  }
  if (e.path1().empty()) return text;
  return e.path1().string() + ": " + text + (e.path2().empty() ? "" : " (to " + e.path2().string() + ")");
}

}  // namespace

std::string error_text(const std::exception& e) {
  if (const auto* fs_error = dynamic_cast<const std::filesystem::filesystem_error*>(&e)) return filesystem_text(*fs_error);
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr)
    return std::string("out of memory: an allocation failed (") + e.what() +
           "); a size in the config or a data file is larger than this machine can hold";
  const std::string text = e.what();
  return text.empty() ? "unknown error" : text;
}

}  // namespace fedsaf
