#pragma once
// What may enter a build's chroot from a source archive, decided from the
// archive's member list alone (pure functions, no I/O): each member's path,
// its type and, for links, where it points; all members under one top
// directory NAME-VERSION/; and the archive's own filename.
//
// The rules are strict on purpose: anything that needs resolving is refused
// rather than resolved, so what was checked is what an extractor will do.
//  - A member path is relative, made of plain components (no "", ".", ".."),
//    at most one trailing '/' (directories), no backslash (a Windows
//    separator to some readers), printable valid UTF-8 (no C0/C1 controls,
//    no NUL), at most max_member_path_bytes long, each component at most
//    NAME_MAX.
//  - Regular files and directories are allowed. A symlink is allowed only
//    with a relative target of plain components: it then resolves strictly
//    below its own directory. A ".." in a target is refused even where it
//    would stay inside lexically, because ".." after a symlink resolves
//    physically: with a -> . and b -> a/.., b is the parent of a's directory.
//  - A hardlink must name an earlier member that is a regular file (or a
//    hardlink to one). Device nodes, fifos and sockets are refused.
//  - No two members share a path (a later one would replace the earlier).
//  - The first member decides the top directory (or it is given); every
//    member is that directory or below it, and the top entry itself, if
//    present, is a directory.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "snapcell/error.hpp"

namespace snapcell {

inline constexpr std::size_t max_member_path_bytes = 1024;
inline constexpr std::size_t max_member_component_bytes = 255;  // NAME_MAX
inline constexpr std::size_t max_project_name_bytes = 128;
inline constexpr std::size_t max_version_bytes = 64;

enum class MemberKind { regular, directory, symlink, hardlink, char_device, block_device, fifo, socket, unknown };

inline std::string_view member_kind_name(MemberKind kind) {
  switch (kind) {
    case MemberKind::regular: return "regular file";
    case MemberKind::directory: return "directory";
    case MemberKind::symlink: return "symlink";
    case MemberKind::hardlink: return "hardlink";
    case MemberKind::char_device: return "character device";
    case MemberKind::block_device: return "block device";
    case MemberKind::fifo: return "fifo";
    case MemberKind::socket: return "socket";
    case MemberKind::unknown: return "member of unknown type";
  }
  return "member of unknown type";
}

struct ArchiveMember {
  std::string path;         // as stored in the archive
  MemberKind kind = MemberKind::regular;
  std::string link_target;  // symlink: its target text; hardlink: the earlier member's path
};

namespace archive_detail {

// A member path as it may be shown in a one-line message: bytes outside
// printable ASCII (and '\\') as \xNN, cut at 120 bytes.
inline std::string shown(std::string_view text) {
  constexpr std::size_t limit = 120;
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < limit; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\')
      out.push_back(text[i]);
    else
      out += fmt::format("\\x{:02x}", byte);
  }
  if (text.size() > limit) out += fmt::format("...({} bytes)", text.size());
  return out;
}

inline Error member_error(std::string_view path, std::string detail) {
  return logic_error("archive member", shown(path), std::move(detail));
}

// The problem with `text` as UTF-8 meant for names, or nothing. Overlong
// forms, surrogates and code points above U+10FFFF are invalid; C0 and C1
// controls and DEL are valid UTF-8 but not in a name anyone should print.
inline std::optional<std::string> utf8_problem(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead == 0) return "contains a NUL byte";
    if (lead < 0x20 || lead == 0x7f) return fmt::format("contains control character 0x{:02x}", lead);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    std::uint32_t code = 0;
    if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2;
      code = lead & 0x1fu;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      code = lead & 0x0fu;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      code = lead & 0x07u;
    } else {
      return fmt::format("is not valid UTF-8 (byte 0x{:02x} at {})", lead, i);
    }
    if (i + length > text.size()) return fmt::format("is not valid UTF-8 (truncated sequence at {})", i);
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0u) != 0x80u) return fmt::format("is not valid UTF-8 (byte 0x{:02x} at {})", next, i + k);
      code = code << 6 | (next & 0x3fu);
    }
    const std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < smallest[length]) return fmt::format("is not valid UTF-8 (overlong sequence at {})", i);
    if (code >= 0xd800 && code <= 0xdfff) return fmt::format("is not valid UTF-8 (surrogate at {})", i);
    if (code > 0x10ffff) return fmt::format("is not valid UTF-8 (beyond U+10FFFF at {})", i);
    if (code >= 0x80 && code <= 0x9f) return fmt::format("contains control character U+{:04X}", code);
    i += length;
  }
  return std::nullopt;
}

// The problem with a '/'-separated relative path of plain components, or
// nothing. `what` says whose path it is ("path" or "link target").
inline std::optional<std::string> relative_path_problem(std::string_view path, std::string_view what) {
  if (path.empty()) return fmt::format("{} is empty", what);
  if (path.size() > max_member_path_bytes)
    return fmt::format("{} is {} bytes, longer than {}", what, path.size(), max_member_path_bytes);
  if (auto problem = utf8_problem(path)) return fmt::format("{} {}", what, *problem);
  if (path.find('\\') != std::string_view::npos) return fmt::format("{} contains a backslash", what);
  if (path.front() == '/') return fmt::format("{} is absolute", what);
  if (path.back() == '/') return fmt::format("{} ends with '/'", what);
  std::size_t start = 0;
  while (start < path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view component = path.substr(start, end - start);
    if (component == "..") return fmt::format("{} has a '..' component", what);
    if (component == ".") return fmt::format("{} has a '.' component", what);
    if (component.empty()) return fmt::format("{} has an empty component ('//')", what);
    if (component.size() > max_member_component_bytes)
      return fmt::format("{} has a component of {} bytes, longer than {}", what, component.size(),
                         max_member_component_bytes);
    start = end + 1;
  }
  return std::nullopt;
}

inline std::string_view first_component(std::string_view path) { return path.substr(0, path.find('/')); }

inline std::string_view directory_of(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view{} : path.substr(0, slash);
}

inline bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}
inline bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

}  // namespace archive_detail

// A member's path with the one trailing '/' a directory may carry removed,
// or the reason the path is refused. The error names the member.
inline Result<std::string> normalized_member_path(std::string_view path, MemberKind kind) {
  std::string_view core = path;
  if (kind == MemberKind::directory && core.size() > 1 && core.back() == '/') core.remove_suffix(1);
  if (auto problem = archive_detail::relative_path_problem(core, "path"))
    return archive_detail::member_error(path, *problem);
  return std::string(core);
}

// Where a symlink at member path `link` (normalized) with `target` points,
// relative to the archive's root, or why it is refused.
inline Result<std::string> resolved_symlink_target(std::string_view link, std::string_view target) {
  if (!target.empty() && target.front() == '/')
    return archive_detail::member_error(link, fmt::format("is a symlink to an absolute path '{}' (outside the tree)",
                                                          archive_detail::shown(target)));
  if (auto problem = archive_detail::relative_path_problem(target, "symlink target")) {
    if (problem->ends_with("has a '..' component"))
      return archive_detail::member_error(
          link, fmt::format("is a symlink to '{}': '..' in a link target is refused (it may point outside the tree)",
                            archive_detail::shown(target)));
    return archive_detail::member_error(link, *problem);
  }
  const std::string_view directory = archive_detail::directory_of(link);
  return directory.empty() ? std::string(target) : fmt::format("{}/{}", directory, target);
}

// The members of one archive, checked one at a time in archive order (a
// hardlink may only name an earlier member). add() refuses a member with an
// Error naming it and the problem; a refused member leaves the tree as it
// was. No I/O.
class MemberTree {
 public:
  // Every member must be under `top` (one path component).
  static MemberTree under_top(std::string top) { return MemberTree(std::move(top), true); }
  // Every member must be under one top directory, the first member's.
  static MemberTree under_first_top() { return MemberTree({}, true); }
  // Members may be anywhere in the tree (a wheel's layout).
  static MemberTree anywhere() { return MemberTree({}, false); }

  Status add(const ArchiveMember& member) {
    using archive_detail::member_error;
    auto normalized = normalized_member_path(member.path, member.kind);
    if (!normalized) return normalized.error();
    const std::string& path = *normalized;

    switch (member.kind) {
      case MemberKind::regular:
      case MemberKind::directory:
      case MemberKind::symlink:
      case MemberKind::hardlink: break;
      default: return member_error(member.path, fmt::format("is a {} (refused)", member_kind_name(member.kind)));
    }

    if (single_top_) {
      const std::string_view top = archive_detail::first_component(path);
      if (!top_.empty() && top != top_)
        return member_error(member.path, fmt::format("is outside the top directory '{}/'", archive_detail::shown(top_)));
      if (path == top && member.kind != MemberKind::directory)
        return member_error(member.path, fmt::format("is the top directory but a {}", member_kind_name(member.kind)));
    }

    std::string target;
    if (member.kind == MemberKind::symlink) {
      auto resolved = resolved_symlink_target(path, member.link_target);
      if (!resolved) return resolved.error();
      target = member.link_target;
    } else if (member.kind == MemberKind::hardlink) {
      auto linked = normalized_member_path(member.link_target, MemberKind::regular);
      if (!linked)
        return member_error(member.path, fmt::format("is a hardlink to '{}', which is refused: {}",
                                                     archive_detail::shown(member.link_target), linked.error().detail));
      const auto earlier = members_.find(*linked);
      if (earlier == members_.end())
        return member_error(member.path, fmt::format("is a hardlink to '{}', which is not an earlier member",
                                                     archive_detail::shown(*linked)));
      if (earlier->second.kind != MemberKind::regular && earlier->second.kind != MemberKind::hardlink)
        return member_error(member.path, fmt::format("is a hardlink to '{}', a {} (only regular files may be linked)",
                                                     archive_detail::shown(*linked),
                                                     member_kind_name(earlier->second.kind)));
      target = *linked;
    }

    if (members_.contains(path)) return member_error(member.path, "appears twice in the archive");
    if (single_top_ && top_.empty()) top_ = std::string(archive_detail::first_component(path));
    members_.emplace(path, Entry{member.kind, std::move(target)});
    return {};
  }

  // The top directory (empty until a member was accepted, and always when
  // members may be anywhere).
  const std::string& top() const { return top_; }
  std::size_t size() const { return members_.size(); }

  struct Entry {
    MemberKind kind;
    std::string link_target;  // symlink: as stored; hardlink: the normalized earlier member
  };
  // Accepted members by normalized path.
  const std::map<std::string, Entry>& members() const { return members_; }

 private:
  MemberTree(std::string top, bool single_top) : top_(std::move(top)), single_top_(single_top) {}

  std::string top_;
  bool single_top_;
  std::map<std::string, Entry> members_;
};

// ---- project names, versions and the sdist filename (PEP 508, PEP 625) -------------

// ^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$ and at most `limit` bytes.
inline std::optional<std::string> pep508_name_problem(std::string_view name, std::size_t limit) {
  if (name.empty()) return "is empty";
  if (name.size() > limit) return fmt::format("is longer than {} characters", limit);
  for (const char c : name)
    if (!archive_detail::is_name_char(c))
      return fmt::format("may hold only A-Z, a-z, 0-9, '.', '_' and '-' (found '{}')", archive_detail::shown({&c, 1}));
  if (!archive_detail::is_alnum(name.front()) || !archive_detail::is_alnum(name.back()))
    return "must start and end with a letter or digit";
  return std::nullopt;
}

inline Status validate_project_name(std::string_view name) {
  if (auto problem = pep508_name_problem(name, max_project_name_bytes))
    return logic_error("project name", archive_detail::shown(name), *problem);
  return {};
}

// A version as it appears after the last '-' of an sdist's name: the same
// characters as a name but no '-' (the separator), starting with a digit
// (PEP 440 normalized versions do).
inline Status validate_version(std::string_view version) {
  auto reject = [&](std::string detail) {
    return Status{logic_error("project version", archive_detail::shown(version), std::move(detail))};
  };
  if (auto problem = pep508_name_problem(version, max_version_bytes)) return reject(*problem);
  if (version.find('-') != std::string_view::npos) return reject("must not contain '-'");
  if (version.front() < '0' || version.front() > '9') return reject("must start with a digit");
  return {};
}

// PEP 503: lower case, every run of '-', '_' and '.' as one '-'.
inline std::string normalize_project_name(std::string_view name) {
  std::string out;
  bool in_separator_run = false;
  for (const char c : name) {
    if (c == '-' || c == '_' || c == '.') {
      if (!in_separator_run) out.push_back('-');
      in_separator_run = true;
      continue;
    }
    in_separator_run = false;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

enum class ArchiveFormat { tar, tar_gz, zip };

inline std::string_view archive_format_suffix(ArchiveFormat format) {
  switch (format) {
    case ArchiveFormat::tar: return ".tar";
    case ArchiveFormat::tar_gz: return ".tar.gz";
    case ArchiveFormat::zip: return ".zip";
  }
  return "";
}

struct SdistName {
  std::string project;
  std::string version;
  ArchiveFormat format = ArchiveFormat::tar_gz;
  std::string top_dir() const { return fmt::format("{}-{}", project, version); }
  bool operator==(const SdistName&) const = default;
};

// `{name}-{version}.tar.gz|.tar|.zip`, split at the last '-'. `filename` is
// a basename: a '/' in it is refused like any other stray character.
inline Result<SdistName> parse_sdist_filename(std::string_view filename) {
  auto reject = [&](std::string detail) {
    return logic_error("sdist filename", archive_detail::shown(filename), std::move(detail));
  };
  SdistName name;
  std::string_view stem;
  if (filename.ends_with(".tar.gz")) {
    name.format = ArchiveFormat::tar_gz;
  } else if (filename.ends_with(".zip")) {
    name.format = ArchiveFormat::zip;
  } else if (filename.ends_with(".tar")) {
    name.format = ArchiveFormat::tar;
  } else {
    return reject("must end with .tar.gz, .tar or .zip");
  }
  stem = filename.substr(0, filename.size() - archive_format_suffix(name.format).size());
  for (const char c : stem)
    if (!archive_detail::is_name_char(c))
      return reject(fmt::format("may hold only A-Z, a-z, 0-9, '.', '_' and '-' before the suffix (found '{}')",
                                archive_detail::shown({&c, 1})));
  const auto dash = stem.rfind('-');
  if (dash == std::string_view::npos) return reject("has no '-VERSION' (must be NAME-VERSION.tar.gz)");
  name.project = std::string(stem.substr(0, dash));
  name.version = std::string(stem.substr(dash + 1));
  if (auto problem = pep508_name_problem(name.project, max_project_name_bytes))
    return reject(fmt::format("project name '{}' {}", archive_detail::shown(name.project), *problem));
  if (auto status = validate_version(name.version); !status)
    return reject(fmt::format("version '{}' {}", archive_detail::shown(name.version), status.error().detail));
  return name;
}

}  // namespace snapcell
