#pragma once
// /proc/PID/mountinfo, as printed by show_mountinfo() in fs/proc_namespace.c
// and described in proc_pid_mountinfo(5):
//
//   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//   (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
//
// Mounter policies use it to prove that a mount point is the session's own
// before anything destructive happens, so a line that is not exactly what the
// kernel prints is an error, never a best guess.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/linux/numbers.hpp"

namespace snapcell::linux_text {

struct MountInfoEntry {
  int mount_id;
  int parent_id;  // equal to mount_id for the namespace root; may name a mount
                  // that is not listed (outside the reader's root)
  unsigned major;
  unsigned minor;
  std::string root;           // decoded; not always a path ("net:[4026531840]" for nsfs)
  std::string mount_point;    // decoded
  std::string mount_options;  // per-mount, raw: "rw,nosuid,relatime"
  std::vector<std::string> optional_fields;  // raw: "shared:1", "master:2", "unbindable"
  std::string fs_type;        // decoded; "fuse.sshfs" style when there is a subtype
  std::string source;         // decoded; may be empty
  std::string super_options;  // raw: the filesystem escapes ',' '=' and more itself

  bool operator==(const MountInfoEntry&) const = default;
};

// The kernel's mangle(): " \t\n\\" become "\ooo". The inverse of
// unescape_mount_path for every string without NUL (no path holds one).
inline std::string escape_mount_path(std::string_view path) {
  std::string escaped;
  escaped.reserve(path.size());
  for (char c : path) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\\') {
      escaped += fmt::format("\\{:03o}", static_cast<unsigned char>(c));
    } else {
      escaped.push_back(c);
    }
  }
  return escaped;
}

// Decodes every "\ooo" escape, not only the four the kernel writes, as
// libmount does; unlike libmount, "\000" and values above "\377" are rejected
// (no path holds a NUL, and a byte cannot hold more), and so are the raw bytes
// the kernel always escapes.
inline Result<std::string> unescape_mount_path(std::string_view field) {
  constexpr std::string_view op = "unescape_mount_path";
  const auto is_octal = [](char c) { return c >= '0' && c <= '7'; };
  std::string decoded;
  decoded.reserve(field.size());
  for (std::size_t i = 0; i < field.size(); ++i) {
    const char c = field[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\0') {
      return parse_error(op, field, fmt::format("raw byte 0x{:02x} at {}: the kernel escapes it",
                                                static_cast<unsigned>(c), i));
    }
    if (c != '\\') {
      decoded.push_back(c);
      continue;
    }
    if (field.size() - i < 4 || !is_octal(field[i + 1]) || !is_octal(field[i + 2]) ||
        !is_octal(field[i + 3])) {
      return parse_error(op, field,
                         fmt::format("backslash at {} not followed by three octal digits", i));
    }
    const unsigned value = (static_cast<unsigned>(field[i + 1] - '0') << 6) |
                           (static_cast<unsigned>(field[i + 2] - '0') << 3) |
                           static_cast<unsigned>(field[i + 3] - '0');
    if (value == 0 || value > 0377) {
      return parse_error(op, field, fmt::format("escape at {} is not a byte from \\001 to \\377", i));
    }
    decoded.push_back(static_cast<char>(static_cast<unsigned char>(value)));
    i += 3;
  }
  return decoded;
}

namespace detail {

// "rw" or "ro" always comes first: show_mountinfo() prints the read-only flag
// itself before any other option, for the mount and for the superblock.
inline bool starts_with_rw_flag(std::string_view options) {
  const std::string_view flag = options.substr(0, options.find(','));
  return flag == "rw" || flag == "ro";
}

// Tags the kernel prints carry a positive peer-group id; tags it may add
// later are kept as they come.
inline bool valid_optional_field(std::string_view field) {
  if (field.empty()) return false;
  if (field == "unbindable") return true;
  const auto colon = field.find(':');
  const std::string_view tag = field.substr(0, colon);
  if (tag == "shared" || tag == "master" || tag == "propagate_from") {
    if (colon == std::string_view::npos) return false;
    const auto group = parse_decimal<int>(field.substr(colon + 1));
    return group && *group > 0;
  }
  return true;
}

}  // namespace detail

// One line, without its newline.
inline Result<MountInfoEntry> parse_mountinfo_line(std::string_view line) {
  const auto fail = [line](std::string detail) {
    return parse_error("parse_mountinfo_line", line, std::move(detail));
  };
  if (line.empty()) return fail("empty line");
  // Paths and fs-specific options arrive escaped; a raw tab, newline or NUL
  // means a torn read or text that never came from the kernel.
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\t' || line[i] == '\n' || line[i] == '\0') {
      return fail(fmt::format("raw byte 0x{:02x} at {}", static_cast<unsigned>(line[i]), i));
    }
  }

  const auto fields = split(line, ' ');
  if (fields.size() < 10) return fail(fmt::format("{} fields, expected at least 10", fields.size()));
  // (1)-(6), then optional fields up to a lone "-", then (8)-(10). The first
  // "-" from (7) on is the separator: no optional field is "-", and a source
  // called "-" comes after it.
  constexpr std::size_t fixed_before = 6;
  std::size_t separator = fixed_before;
  while (separator < fields.size() && fields[separator] != "-") ++separator;
  if (separator >= fields.size()) return fail("no \" - \" separator after the optional fields");
  if (fields.size() - separator - 1 != 3) {
    return fail(fmt::format("{} fields after \" - \", expected fs type, source, super options",
                            fields.size() - separator - 1));
  }

  MountInfoEntry entry{};
  const auto mount_id = parse_decimal<int>(fields[0]);
  if (!mount_id || *mount_id < 0) return fail("mount id (1) is not a non-negative decimal");
  entry.mount_id = *mount_id;
  const auto parent_id = parse_decimal<int>(fields[1]);
  if (!parent_id || *parent_id < 0) return fail("parent id (2) is not a non-negative decimal");
  entry.parent_id = *parent_id;

  // The kernel's dev_t holds a 12-bit major and a 20-bit minor (MINORBITS);
  // anything wider did not come from MAJOR()/MINOR().
  const auto device = split(fields[2], ':');
  const auto major = device.size() == 2 ? parse_decimal<unsigned>(device[0]) : std::nullopt;
  const auto minor = device.size() == 2 ? parse_decimal<unsigned>(device[1]) : std::nullopt;
  if (!major || !minor) return fail("device (3) is not major:minor in decimal");
  if (*major > 0xfffu || *minor > 0xfffffu) return fail("device (3) exceeds 12-bit major or 20-bit minor");
  entry.major = *major;
  entry.minor = *minor;

  auto root = unescape_mount_path(fields[3]);
  if (!root) return fail("root (4): " + root.error().detail);
  if (root->empty()) return fail("root (4) is empty");
  entry.root = std::move(root).value();

  // A mount point whose dentry was unlinked ends in " (deleted)", which reads
  // the same as a directory really named so; it is kept as printed.
  auto mount_point = unescape_mount_path(fields[4]);
  if (!mount_point) return fail("mount point (5): " + mount_point.error().detail);
  if (mount_point->empty() || mount_point->front() != '/') return fail("mount point (5) is not absolute");
  entry.mount_point = std::move(mount_point).value();

  if (!detail::starts_with_rw_flag(fields[5])) return fail("mount options (6) do not start with rw or ro");
  entry.mount_options = std::string(fields[5]);

  for (std::size_t i = fixed_before; i < separator; ++i) {
    if (!detail::valid_optional_field(fields[i])) {
      return fail(fmt::format("optional field (7) \"{}\" is malformed", excerpt(fields[i], 32)));
    }
    entry.optional_fields.emplace_back(fields[i]);
  }

  // show_type() mangles the type and subtype too.
  auto fs_type = unescape_mount_path(fields[separator + 1]);
  if (!fs_type) return fail("fs type (9): " + fs_type.error().detail);
  if (fs_type->empty()) return fail("fs type (9) is empty");
  entry.fs_type = std::move(fs_type).value();

  // An empty source is real: mount -t tmpfs "" /mnt prints "tmpfs  rw", with
  // two spaces. A mount with no source at all prints "none".
  auto source = unescape_mount_path(fields[separator + 2]);
  if (!source) return fail("source (10): " + source.error().detail);
  entry.source = std::move(source).value();

  if (!detail::starts_with_rw_flag(fields[separator + 3])) {
    return fail("super options (11) do not start with rw or ro");
  }
  entry.super_options = std::string(fields[separator + 3]);
  return entry;
}

// A whole file. Mount ids are unique in one reading; a repeated id means the
// text was stitched from two readings (a read() loop across a table change).
inline Result<std::vector<MountInfoEntry>> parse_mountinfo(std::string_view text) {
  auto entries = parse_lines<MountInfoEntry>(text, parse_mountinfo_line);
  if (!entries) return entries;
  const auto id_of = [](const MountInfoEntry& entry) { return entry.mount_id; };
  if (const auto i = first_repeated(*entries, id_of)) {
    const int id = (*entries)[*i].mount_id;
    return at_line(logic_error("parse_mountinfo", fmt::format("mount id {}", id), "listed twice"), *i);
  }
  return entries;
}

// The st_dev of files on this mount: glibc's makedev(3) encoding (and the
// kernel's new_encode_dev() for every device that fits in 32 bits).
inline std::uint64_t makedev_of(const MountInfoEntry& entry) noexcept {
  const std::uint64_t major = entry.major;
  const std::uint64_t minor = entry.minor;
  return ((major & 0x00000fffu) << 8) | ((major & 0xfffff000u) << 32) | (minor & 0x000000ffu) |
         ((minor & 0xffffff00u) << 12);
}

}  // namespace snapcell::linux_text
