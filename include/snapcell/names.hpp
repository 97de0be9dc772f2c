#pragma once
// The naming convention every resource of a session follows, and the
// validation of whatever a user hands in. One name per session: the volume,
// the mount point's last component and the supervisor's unit all carry it,
// so reap can find a dead session's leftovers by name alone.

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "snapcell/error.hpp"

namespace snapcell {

inline constexpr std::size_t max_prefix_length = 24;
inline constexpr std::size_t nonce_hex_digits = 16;

inline bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
inline bool is_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// A prefix names a family of sessions (one per tool or per farm); it becomes
// part of volume, directory and cgroup names, so it is kept to what all of
// them accept: lower-case letters, digits and inner dashes.
inline Status validate_prefix(std::string_view prefix) {
  auto reject = [&](std::string_view why) {
    return Status{logic_error("validate prefix", std::string(prefix), std::string(why))};
  };
  if (prefix.empty()) return reject("is empty");
  if (prefix.size() > max_prefix_length) return reject(fmt::format("is longer than {} characters", max_prefix_length));
  if (!is_lower_alnum(prefix.front())) return reject("must start with a lower-case letter or digit");
  if (prefix.back() == '-') return reject("must not end with '-'");
  for (char c : prefix)
    if (!is_lower_alnum(c) && c != '-') return reject("may hold only a-z, 0-9 and '-'");
  return {};
}

inline std::string session_name(std::string_view prefix, std::uint64_t nonce) {
  return fmt::format("{}-{:016x}", prefix, nonce);
}

// True when `name` is exactly `<prefix>-<16 lower-case hex digits>`: what reap
// may consider. Anything else is never touched, whatever its resemblance.
inline bool is_session_name(std::string_view prefix, std::string_view name) {
  if (name.size() != prefix.size() + 1 + nonce_hex_digits) return false;
  if (name.substr(0, prefix.size()) != prefix || name[prefix.size()] != '-') return false;
  auto nonce = name.substr(prefix.size() + 1);
  return std::all_of(nonce.begin(), nonce.end(), is_hex_digit);
}

// Absolute, normalised, printable: no "." or ".." components, no empty
// components, no trailing slash, not "/" itself. Paths that need resolving are
// refused rather than resolved, so what is checked is what is used.
inline Status validate_absolute_path(std::string_view what, std::string_view path) {
  auto reject = [&](std::string_view why) {
    return Status{logic_error(fmt::format("validate {}", what), std::string(path), std::string(why))};
  };
  if (path.empty()) return reject("is empty");
  if (path.size() > 4095) return reject("is longer than PATH_MAX");
  if (path.front() != '/') return reject("is not absolute");
  if (path == "/") return reject("is the root directory");
  if (path.back() == '/') return reject("ends with '/'");
  for (unsigned char c : path)
    if (c < 0x20 || c == 0x7f) return reject("contains a control character");
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    auto component = path.substr(start, end - start);
    if (component.empty()) return reject("contains an empty component ('//')");
    if (component == "." || component == "..") return reject("contains a '.' or '..' component");
    start = end + 1;
  }
  return {};
}

inline std::string parent_of(std::string_view path) {
  auto slash = path.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

inline std::string join_path(std::string_view dir, std::string_view leaf) {
  return fmt::format("{}/{}", dir, leaf);
}

}  // namespace snapcell
