// fedsaf: no-torch
#include "core/utf8.hpp"

#include <fmt/format.h>

namespace fedsaf {

std::optional<size_t> first_invalid_utf8_byte(std::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = byte(i);
    size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
    if (lead < 0x80) length = 1;
    else if (lead >= 0xC2 && lead <= 0xDF) length = 2;
    else if (lead == 0xE0) length = 3, low = 0xA0;   // no overlong 3-byte forms
    else if (lead == 0xED) length = 3, high = 0x9F;  // no UTF-16 surrogates
    else if (lead >= 0xE1 && lead <= 0xEF) length = 3;
    else if (lead == 0xF0) length = 4, low = 0x90;   // no overlong 4-byte forms
    else if (lead == 0xF4) length = 4, high = 0x8F;  // nothing above U+10FFFF
    else if (lead >= 0xF1 && lead <= 0xF3) length = 4;
    else return i;
    if (i + length > text.size()) return i;
    for (size_t k = 1; k < length; ++k) {
      const unsigned char c = byte(i + k);
      const unsigned char lo = k == 1 ? low : 0x80, hi = k == 1 ? high : 0xBF;
      if (c < lo || c > hi) return i;
    }
    i += length;
  }
  return std::nullopt;
}

std::string escape_invalid_utf8(std::string_view text) {
  std::string out;
  while (!text.empty()) {
    const size_t valid = first_invalid_utf8_byte(text).value_or(text.size());
    out.append(text.substr(0, valid));
    if (valid == text.size()) break;
    out += fmt::format("\\x{:02X}", static_cast<unsigned char>(text[valid]));
    text.remove_prefix(valid + 1);
  }
  return out;
}

}  // namespace fedsaf
