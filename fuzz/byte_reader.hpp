#pragma once
// Turns a fuzzer's bytes into choices, so a target's input decoding reads
// like the grammar it implements. Every read succeeds: past the end it
// yields zeros and empty strings, so any byte string is a valid program and
// truncating one (as libFuzzer's mutations do) only shortens it.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace snapcell::fuzz {

class ByteReader {
 public:
  ByteReader(const std::uint8_t* data, std::size_t size) : bytes_(reinterpret_cast<const char*>(data), size) {}

  bool empty() const { return bytes_.empty(); }
  std::size_t remaining() const { return bytes_.size(); }

  // The next byte, 0 once the input is used up.
  std::uint8_t byte() {
    if (bytes_.empty()) return 0;
    const auto value = static_cast<std::uint8_t>(bytes_.front());
    bytes_.remove_prefix(1);
    return value;
  }

  // A number in [low, high], from one byte (ranges here are small).
  int in_range(int low, int high) { return low + static_cast<int>(byte() % static_cast<unsigned>(high - low + 1)); }

  bool flag() { return (byte() & 1u) != 0; }

  // One of `choices`, chosen by the next byte.
  template <class T>
  const T& pick(std::span<const T> choices) {
    return choices[byte() % choices.size()];
  }
  template <class T, std::size_t N>
  const T& pick(const T (&choices)[N]) {
    return pick(std::span<const T>(choices, N));
  }

  // The bytes up to the next `separator` (consumed, not returned), or all
  // that is left.
  std::string_view until(char separator) {
    const auto at = bytes_.find(separator);
    const std::string_view piece = bytes_.substr(0, at);
    bytes_.remove_prefix(at == std::string_view::npos ? bytes_.size() : at + 1);
    return piece;
  }

  std::string_view rest() {
    const std::string_view all = bytes_;
    bytes_ = {};
    return all;
  }

 private:
  std::string_view bytes_;
};

}  // namespace snapcell::fuzz
