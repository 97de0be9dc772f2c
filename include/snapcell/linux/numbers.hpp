#pragma once
// Strict building blocks shared by the parsers of kernel text (procfs,
// cgroupfs): decimal numbers, line and field splitting, error values.
//
// The kernel prints numbers with %d, %u or %llu: no '+', no padding, no
// leading zeros, a '-' only for negative values. Anything else means the text
// is not what we believe it is, and these parsers decide on it (which process
// to kill, which mount to remove), so it is rejected rather than guessed at.
// Nothing here throws except std::bad_alloc.

#include <charconv>
#include <concepts>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "snapcell/error.hpp"

namespace snapcell::linux_text {

template <class T>
concept DecimalInteger = std::integral<T> && !std::same_as<T, bool>;

// A whole token in the kernel's canonical decimal form, or nothing.
template <DecimalInteger T>
std::optional<T> parse_decimal(std::string_view token) noexcept {
  std::string_view digits = token;
  if constexpr (std::is_signed_v<T>) {
    if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
  }
  if (digits.empty()) return std::nullopt;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  // "0" only: "007" and "-0" are never printed by the kernel.
  if (digits.front() == '0' && token.size() > 1) return std::nullopt;
  T value{};
  const char* const end = token.data() + token.size();
  const auto [stop, ec] = std::from_chars(token.data(), end, value);
  if (ec != std::errc{} || stop != end) return std::nullopt;  // overflow
  return value;
}

// Process ids are positive: 0 is what the kernel prints for a task outside
// the reader's PID namespace (or one already reaped), and kill(0, ...) would
// signal the caller's own process group.
inline std::optional<int> parse_pid(std::string_view token) noexcept {
  const auto pid = parse_decimal<int>(token);
  if (!pid || *pid <= 0) return std::nullopt;
  return pid;
}

// Whether a token is a decimal integer of any size: for fields that are
// checked for shape but not used.
inline bool is_decimal_token(std::string_view token) noexcept {
  if (!token.empty() && token.front() == '-') token.remove_prefix(1);
  if (token.empty()) return false;
  for (char c : token) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Every piece between separators, empty ones included: a doubled separator
// shows up as an empty field for the caller to reject.
inline std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> pieces;
  for (;;) {
    const auto at = text.find(separator);
    pieces.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return pieces;
    text.remove_prefix(at + 1);
  }
}

// The lines of a file. Kernel files end every line with '\n'; text without the
// final newline is accepted too. Empty text has no lines; any other empty
// line (a blank line, or "\n" alone) is returned for the caller to reject.
inline std::vector<std::string_view> split_lines(std::string_view text) {
  if (text.empty()) return {};
  if (text.back() == '\n') text.remove_suffix(1);
  return split(text, '\n');
}

// The start of a rejected input, printable, for error messages: inputs can be
// long (fuzzers) or hold control bytes (mount points, process names).
inline std::string excerpt(std::string_view text, std::size_t limit = 80) {
  std::string shown;
  const bool cut = text.size() > limit;
  if (cut) text = text.substr(0, limit);
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && c != '\\') {
      shown.push_back(c);
    } else {
      shown += fmt::format("\\x{:02x}", byte);
    }
  }
  if (cut) shown += "...";
  return shown;
}

inline Error parse_error(std::string_view operation, std::string_view input, std::string detail) {
  return logic_error(std::string(operation), excerpt(input), std::move(detail));
}

// Names the 1-based line of a file that a line parser rejected.
inline Error at_line(Error error, std::size_t index) {
  error.target = fmt::format("line {}: {}", index + 1, error.target);
  return error;
}

// The parse of every line, or the first line's error.
template <class T, class ParseLine>
Result<std::vector<T>> parse_lines(std::string_view text, ParseLine parse_line) {
  std::vector<T> parsed;
  const auto lines = split_lines(text);
  parsed.reserve(lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    Result<T> one = parse_line(lines[i]);
    if (!one) return at_line(one.error(), i);
    parsed.push_back(std::move(one).value());
  }
  return parsed;
}

// The index of the first item whose key an earlier item already had: ids
// that the kernel prints once per reading (mount ids, hierarchy ids).
template <class T, class KeyOf>
std::optional<std::size_t> first_repeated(const std::vector<T>& items, KeyOf key_of) {
  std::unordered_set<std::decay_t<decltype(key_of(items.front()))>> seen;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!seen.insert(key_of(items[i])).second) return i;
  }
  return std::nullopt;
}

}  // namespace snapcell::linux_text
