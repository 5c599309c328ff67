#pragma once
// Reads a fuzz input front to back as a little structured description (flags, sizes, names).
// Past the end every read returns zeros, so that any input, however short, describes something.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace fedsaf::fuzz {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool done() const { return pos_ >= size_; }
  size_t left() const { return done() ? 0 : size_ - pos_; }

  uint8_t u8() { return done() ? 0 : data_[pos_++]; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | u8() << 8); }
  // n raw bytes into out (zero-filled past the end).
  void bytes(void* out, size_t n) {
    const size_t got = n < left() ? n : left();
    if (got > 0) std::memcpy(out, data_ + pos_, got);
    if (got < n) std::memset(static_cast<uint8_t*>(out) + got, 0, n - got);
    pos_ += got;
  }
  template <class T>
  T value() {
    T v{};
    bytes(&v, sizeof v);
    return v;
  }
  std::string string(size_t n) {
    std::string s(n < left() ? n : left(), '\0');
    bytes(s.data(), s.size());
    return s;
  }
  std::string rest() { return string(left()); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace fedsaf::fuzz
