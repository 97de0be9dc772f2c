#pragma once
// What may enter a build's chroot from a source archive, decided from the
// archive's member list alone (pure functions, no I/O): each member's path,
// its type and, for links, where it points; all members under one top
// directory NAME-VERSION/; and the archive's own filename.
//
// The rules are strict on purpose: what was checked is what an extractor
// will do, and anything the archive's own tree cannot resolve is refused.
//  - A member path is relative, made of plain components (no "", ".", ".."),
//    at most one trailing '/' (directories), no backslash (a Windows
//    separator to some readers), printable valid UTF-8 (no C0/C1 controls,
//    no NUL), at most max_member_path_bytes long, each component at most
//    NAME_MAX.
//  - Regular files and directories are allowed. A symlink's target is
//    relative, of plain components and "..": once every member is in,
//    finish() resolves it physically through the archive's own tree (links
//    followed in every component, as the kernel does after extraction, ".."
//    taken from wherever the links led) and accepts it only when it never
//    leaves the top directory, never goes ".." out of a directory the
//    archive does not have (the kernel would resolve that, not the archive),
//    never passes through a file and does not loop. A link that ends on a
//    name the archive lacks, below the top directory, is accepted: the
//    build itself could make such a link. Real sdists hold links such as
//    tests/certs/valid/ca -> ../expired/ca, which pip's extraction accepts.
//  - No member sits below a symlink member: an extractor would write it
//    through the link, wherever that leads.
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
#include <vector>

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

// The problem with a symlink's target text, or nothing: relative, made of
// plain components and "..". Where it leads is MemberTree::finish()'s to
// decide, against the whole tree.
inline Status check_symlink_target(std::string_view link, std::string_view target) {
  if (!target.empty() && target.front() == '/')
    return archive_detail::member_error(link, fmt::format("is a symlink to an absolute path '{}' (outside the tree)",
                                                          archive_detail::shown(target)));
  if (auto problem = archive_detail::relative_path_problem(target, "symlink target"))
    if (!problem->ends_with("has a '..' component")) return archive_detail::member_error(link, *problem);
  // relative_path_problem stops at the first "..": the components after it
  // must be plain too.
  std::size_t start = 0;
  while (start <= target.size()) {
    std::size_t end = target.find('/', start);
    if (end == std::string_view::npos) end = target.size();
    const std::string_view component = target.substr(start, end - start);
    if (component != "..") {
      if (component.empty()) return archive_detail::member_error(link, "symlink target has an empty component ('//')");
      if (component == ".") return archive_detail::member_error(link, "symlink target has a '.' component");
      if (component.size() > max_member_component_bytes)
        return archive_detail::member_error(
            link, fmt::format("symlink target has a component of {} bytes, longer than {}", component.size(),
                              max_member_component_bytes));
    }
    start = end + 1;
  }
  return {};
}

// The members of one archive, checked one at a time in archive order (a
// hardlink may only name an earlier member), then as a whole: the tree is
// accepted only when finish() says so, because a later member can change
// where an earlier link leads. add() and finish() refuse with an Error
// naming the member and the problem; a refused member leaves the tree as it
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
      if (Status checked = check_symlink_target(path, member.link_target); !checked) return checked;
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

  // The checks that need the whole tree: no member below a symlink, and
  // every symlink resolved physically (see the top of this file). Call it
  // once the last member is in; until it returns ok nothing is accepted.
  Status finish() const {
    for (const auto& [path, entry] : members_)
      if (auto link = symlink_above(path))
        return archive_detail::member_error(
            path, fmt::format("is below the symlink '{}' (an extractor would write it through the link)",
                              archive_detail::shown(*link)));
    for (const auto& [path, entry] : members_)
      if (entry.kind == MemberKind::symlink)
        if (Status inside = check_link_stays_inside(path, entry.link_target); !inside) return inside;
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

  enum class Node { absent, directory, file, symlink };

  // What the extracted tree has at `path`: a member, or a directory implied
  // by members below it (archives need not list their directories).
  Node node_at(const std::string& path) const {
    if (const auto found = members_.find(path); found != members_.end()) {
      switch (found->second.kind) {
        case MemberKind::directory: return Node::directory;
        case MemberKind::symlink: return Node::symlink;
        default: return Node::file;
      }
    }
    const std::string below = path + "/";
    const auto next = members_.lower_bound(below);
    return next != members_.end() && next->first.starts_with(below) ? Node::directory : Node::absent;
  }

  std::optional<std::string> symlink_above(const std::string& path) const {
    for (std::size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
      const auto found = members_.find(path.substr(0, slash));
      if (found != members_.end() && found->second.kind == MemberKind::symlink) return found->first;
    }
    return std::nullopt;
  }

  // Follows `target` from the link's directory through the tree, links in
  // every component; `at` is the directory resolution stands in, and never
  // rises above the top directory (or, for a wheel, the archive's root).
  Status check_link_stays_inside(const std::string& link, const std::string& target) const {
    constexpr int max_link_hops = 40;  // the kernel's own limit (ELOOP)
    auto refuse = [&](std::string why) {
      return Status{archive_detail::member_error(
          link, fmt::format("is a symlink to '{}', which {}", archive_detail::shown(target), why))};
    };
    std::vector<std::string> at;
    for (std::string_view rest = archive_detail::directory_of(link); !rest.empty();) {
      const auto slash = rest.find('/');
      at.emplace_back(rest.substr(0, slash));
      rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    }
    const std::size_t lowest = single_top_ ? 1 : 0;
    std::vector<std::string> pending;  // components still to walk, the next one last
    auto push_components = [&](std::string_view text) {
      std::vector<std::string> parts;
      std::size_t start = 0;
      while (start <= text.size()) {
        std::size_t end = text.find('/', start);
        if (end == std::string_view::npos) end = text.size();
        parts.emplace_back(text.substr(start, end - start));
        start = end + 1;
      }
      pending.insert(pending.end(), parts.rbegin(), parts.rend());
    };
    push_components(target);
    bool beyond_tree = false;  // below a name the archive does not have
    int hops = 0;
    while (!pending.empty()) {
      std::string part = std::move(pending.back());
      pending.pop_back();
      if (part == "..") {
        if (beyond_tree) return refuse("goes '..' out of a directory the archive does not have");
        if (at.size() <= lowest)
          return refuse(single_top_ ? fmt::format("leaves the top directory '{}/'", archive_detail::shown(top_))
                                    : std::string("leaves the archive's tree"));
        at.pop_back();
        continue;
      }
      at.push_back(std::move(part));
      if (beyond_tree) continue;
      std::string here;
      for (const auto& component : at) here += (here.empty() ? "" : "/") + component;
      switch (node_at(here)) {
        case Node::absent: beyond_tree = true; break;
        case Node::directory: break;
        case Node::file:
          if (!pending.empty()) return refuse(fmt::format("goes through the file '{}'", archive_detail::shown(here)));
          break;
        case Node::symlink:
          if (++hops > max_link_hops) return refuse(fmt::format("loops (more than {} links)", max_link_hops));
          at.pop_back();  // a link's target is taken from the link's own directory
          push_components(members_.at(here).link_target);
          break;
      }
    }
    return {};
  }

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
