#pragma once
// Shared by the reader tests: the DataError a call throws, and one-line message checks.
#include <gtest/gtest.h>

#include <functional>
#include <initializer_list>
#include <string>

#include "core/errors.hpp"

namespace fedsaf::test {

// The DataError message f throws; a test failure when it throws nothing or something else.
inline std::string data_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected DataError, got: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected DataError, nothing thrown";
  return "";
}

// msg contains every part and is one line.
inline void expect_contains(const std::string& msg, std::initializer_list<std::string> parts) {
  for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
}

}  // namespace fedsaf::test
