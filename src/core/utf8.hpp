// fedsaf: no-torch
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace fedsaf {

// The offset of the first byte that does not start or continue a well-formed UTF-8 sequence
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or nullopt when the
// whole text is valid. TOML documents are UTF-8, so values that are not cannot round-trip
// through the resolved config a run stores.
std::optional<size_t> first_invalid_utf8_byte(std::string_view text);

// The text with every byte that is not part of valid UTF-8 written as \xNN, so an error
// message can show what was given without printing broken text to a terminal or log.
std::string escape_invalid_utf8(std::string_view text);

}  // namespace fedsaf
