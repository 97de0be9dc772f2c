// Fuzz target: parse_mountinfo (include/snapcell/linux/mountinfo.hpp), with
// libmount (util-linux, the parser of mount(8) and findmnt(8)) as the oracle.
//
// Properties, on every input:
//  1. Both accept or both reject; when both accept, every entry agrees on
//     mount id, parent id, major:minor, root, mount point, fs type, source,
//     per-mount options and optional fields, and the super options read the
//     same through libmount's decoding (we keep them raw, libmount decodes
//     "\ooo" in them).
//  2. For every line we accept, the line rebuilt with escape_mount_path()
//     from the decoded fields parses to the same entry.
//
// "libmount rejects" means: mnt_table_parse_stream() failed, or it reported
// a line to the parser error callback (by default it skips a bad line and
// goes on, and a bad last line does not even fail the call), or it read the
// text as fstab rather than mountinfo (it guesses the format from the first
// line that is not blank).
//
// libmount is knowingly more lenient than we are. Each difference below is
// allowed only where it is proven on the very input, never by a blanket pass:
//  L1 blank lines (spaces and tabs only) and lines whose first non-blank is
//     '#' are skipped by libmount; we reject every empty line.
//  L2 libmount stops reading a line at a NUL byte (the last line only: on an
//     earlier one it reports "missing newline"); we reject any NUL.
//  L3 libmount drops one '\r' before the end of a line; we keep it (in the
//     super options, the last field) or reject it.
//  L4 text that libmount normalises: runs of blanks and tabs as one
//     separator, leading blanks, numbers with a sign, leading zeros, trailing
//     bytes or overflow (strtol, sscanf "%u:%u"), backslashes not followed by
//     three octal digits kept as they are, "\000" and "\400".."\777" decoded
//     (truncating, wrapping), anything after the super options ignored.
//     Proof: libmount's own reading of the line, printed back in the kernel's
//     format (render()), is not the line. And the printed form must then be
//     one we accept with the same fields, unless L5 holds for it.
//  L5 a kernel invariant that libmount does not check and we do: ids are
//     non-negative, a major fits 12 bits and a minor 20, root and fs type are
//     not empty, the mount point is absolute, both option fields begin with
//     "rw" or "ro", and optional fields are "unbindable" or carry a positive
//     peer group when tagged shared, master or propagate_from (and none is a
//     lone "-").
//  L6 a mount id listed twice in one reading; libmount keeps both.
//  L7 libmount guesses the format from the first line that is not blank:
//     /proc/swaps when it starts with "Filename\t" (then every such line is a
//     header it skips), else mountinfo when it starts with two numbers, else
//     fstab. A reading as fstab or swaps is not a reading of mountinfo: it
//     counts as a rejection, and a skipped swaps header is allowed as L1 is.
// Comparisons, with both accepting:
//  C1 libmount 2.39 and later drop a " (deleted)" suffix from the mount point;
//     we keep it as printed (it reads the same as a directory named so).
//  C2 libmount swaps the kernel's source "/dev/root" for the device it
//     guesses from major:minor.

#include <libmount/libmount.h>
#include <sys/sysmacros.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "check.hpp"
#include "snapcell/linux/mountinfo.hpp"

namespace {

using snapcell::linux_text::escape_mount_path;
using snapcell::linux_text::MountInfoEntry;
using snapcell::linux_text::parse_mountinfo;
using snapcell::linux_text::parse_mountinfo_line;
using snapcell::linux_text::split_lines;

// What libmount read for one line.
struct LibEntry {
  int id = 0;
  int parent = 0;
  unsigned major = 0;
  unsigned minor = 0;
  std::string root, target, vfs_options, optional_fields, fs_type, source, fs_options;
  bool kernel = false;  // parsed as a mountinfo line (not as an fstab one)
};

struct LibReading {
  bool accepted = false;
  bool as_fstab = false;
  std::vector<LibEntry> entries;
};

std::string or_empty(const char* text) { return text == nullptr ? std::string() : std::string(text); }

int note_error(libmnt_table* table, const char* /*filename*/, int /*line*/) {
  *static_cast<bool*>(mnt_table_get_userdata(table)) = true;
  return 1;  // skip the line and go on, as libmount does by default: we only need to know
}

LibReading read_with_libmount(std::string_view text) {
  LibReading reading;
  std::string buffer(text);
  std::unique_ptr<FILE, int (*)(FILE*)> stream(fmemopen(buffer.data(), buffer.size(), "r"), &std::fclose);
  std::unique_ptr<libmnt_table, void (*)(libmnt_table*)> table(mnt_new_table(), &mnt_unref_table);
  std::unique_ptr<libmnt_iter, void (*)(libmnt_iter*)> iter(mnt_new_iter(MNT_ITER_FORWARD), &mnt_free_iter);
  if (!stream || !table || !iter) std::abort();  // out of memory: not a finding
  bool error_reported = false;
  mnt_table_set_userdata(table.get(), &error_reported);
  mnt_table_set_parser_errcb(table.get(), note_error);
  // Not a /proc path: libmount would read the real file instead of the stream.
  const int rc = mnt_table_parse_stream(table.get(), stream.get(), "fuzz-input");

  libmnt_fs* fs = nullptr;
  while (mnt_table_next_fs(table.get(), iter.get(), &fs) == 0) {
    LibEntry entry;
    entry.kernel = mnt_fs_is_kernel(fs) != 0;
    entry.id = mnt_fs_get_id(fs);
    entry.parent = mnt_fs_get_parent_id(fs);
    entry.major = major(mnt_fs_get_devno(fs));
    entry.minor = minor(mnt_fs_get_devno(fs));
    entry.root = or_empty(mnt_fs_get_root(fs));
    entry.target = or_empty(mnt_fs_get_target(fs));
    entry.vfs_options = or_empty(mnt_fs_get_vfs_options(fs));
    entry.optional_fields = or_empty(mnt_fs_get_optional_fields(fs));
    entry.fs_type = or_empty(mnt_fs_get_fstype(fs));
    entry.source = or_empty(mnt_fs_get_source(fs));
    entry.fs_options = or_empty(mnt_fs_get_fs_options(fs));
    if (!entry.kernel) reading.as_fstab = true;
    reading.entries.push_back(std::move(entry));
  }
  reading.accepted = rc == 0 && !error_reported && !reading.as_fstab;
  return reading;
}

// libmount's unmangle(): "\ooo" with three octal digits becomes that byte
// (modulo 256), anything else is copied; the C string ends at a decoded NUL.
std::string unmangle_like_libmount(std::string_view text) {
  const auto octal = [](char c) { return c >= '0' && c <= '7'; };
  std::string decoded;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size() && octal(text[i + 1]) && octal(text[i + 2]) && octal(text[i + 3])) {
      decoded.push_back(static_cast<char>(64 * (text[i + 1] - '0') + 8 * (text[i + 2] - '0') + (text[i + 3] - '0')));
      i += 3;
    } else {
      decoded.push_back(text[i]);
    }
  }
  return decoded.substr(0, decoded.find('\0'));
}

// The kernel's mangle(), as libmount's mangle() writes it.
std::string mangle(std::string_view text) {
  std::string mangled;
  for (const char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\\')
      mangled += fmt::format("\\{:03o}", static_cast<unsigned char>(c));
    else
      mangled.push_back(c);
  }
  return mangled;
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::vector<std::string_view> blank_separated(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_blank(text[i])) ++i;
    std::size_t start = i;
    while (i < text.size() && !is_blank(text[i])) ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  return words;
}

std::string normalised_optional_fields(std::string_view raw) {
  std::string joined;
  for (const auto word : blank_separated(raw)) joined += (joined.empty() ? "" : " ") + std::string(word);
  return joined;
}

// libmount's reading of a line printed back as show_mountinfo() would.
std::string render(const LibEntry& e, std::string_view source) {
  const std::string optional = normalised_optional_fields(e.optional_fields);
  return fmt::format("{} {} {}:{} {} {} {}{} - {} {} {}", e.id, e.parent, e.major, e.minor, mangle(e.root),
                     mangle(e.target), mangle(e.vfs_options), optional.empty() ? "" : " " + optional,
                     mangle(e.fs_type), mangle(source), mangle(e.fs_options));
}

bool canonical_positive(std::string_view digits) {
  if (digits.empty() || digits.front() == '0' || digits.size() > 10) return false;
  for (const char c : digits)
    if (c < '0' || c > '9') return false;
  return std::stoll(std::string(digits)) <= 0x7fffffff;
}

bool begins_with_rw_or_ro(std::string_view options) {
  const auto flag = options.substr(0, options.find(','));
  return flag == "rw" || flag == "ro";
}

// L5: the kernel invariant the entry breaks, if any.
std::optional<std::string> kernel_invariant_broken(const LibEntry& e) {
  if (e.id < 0 || e.parent < 0) return "a negative mount or parent id";
  if (e.major > 0xfff || e.minor > 0xfffff) return "a major wider than 12 bits or a minor wider than 20";
  if (e.root.empty()) return "an empty root";
  if (e.fs_type.empty()) return "an empty fs type";
  if (e.target.empty() || e.target.front() != '/') return "a mount point that is not absolute";
  if (!begins_with_rw_or_ro(e.vfs_options)) return "mount options not beginning with rw or ro";
  if (!begins_with_rw_or_ro(e.fs_options)) return "super options not beginning with rw or ro";
  for (const auto field : blank_separated(e.optional_fields)) {
    if (field == "-") return "an optional field \"-\"";
    const auto colon = field.find(':');
    const auto tag = field.substr(0, colon);
    if (tag == "shared" || tag == "master" || tag == "propagate_from") {
      if (colon == std::string_view::npos || !canonical_positive(field.substr(colon + 1)))
        return fmt::format("optional field '{}' without a positive peer group", field);
    }
  }
  return std::nullopt;
}

constexpr std::string_view deleted_suffix = " (deleted)";

// Property 1 for one entry both parsers read from `line`; `cr_dropped`: L3
// applied to it.
void require_same(const MountInfoEntry& ours, const LibEntry& lib, std::string_view line, bool cr_dropped) {
  FUZZ_CHECK(lib.kernel, line, "libmount read a line we accept as fstab");
  FUZZ_CHECK(lib.id == ours.mount_id, line, "mount id: libmount {}, ours {}", lib.id, ours.mount_id);
  FUZZ_CHECK(lib.parent == ours.parent_id, line, "parent id: libmount {}, ours {}", lib.parent, ours.parent_id);
  FUZZ_CHECK(lib.major == ours.major && lib.minor == ours.minor, line, "device: libmount {}:{}, ours {}:{}",
             lib.major, lib.minor, ours.major, ours.minor);
  FUZZ_CHECK(lib.root == ours.root, line, "root: libmount '{}', ours '{}'", lib.root, ours.root);
  // C1.
  const bool same_target = lib.target == ours.mount_point ||
                           (ours.mount_point.ends_with(deleted_suffix) &&
                            lib.target + std::string(deleted_suffix) == ours.mount_point);
  FUZZ_CHECK(same_target, line, "mount point: libmount '{}', ours '{}'", lib.target, ours.mount_point);
  FUZZ_CHECK(lib.fs_type == ours.fs_type, line, "fs type: libmount '{}', ours '{}'", lib.fs_type, ours.fs_type);
  // C2.
  FUZZ_CHECK(lib.source == ours.source || ours.source == "/dev/root", line, "source: libmount '{}', ours '{}'",
             lib.source, ours.source);
  FUZZ_CHECK(lib.vfs_options == unmangle_like_libmount(ours.mount_options), line,
             "mount options: libmount '{}', ours '{}'", lib.vfs_options, ours.mount_options);
  std::string optional;
  for (const auto& field : ours.optional_fields) optional += (optional.empty() ? "" : " ") + field;
  FUZZ_CHECK(lib.optional_fields == optional, line, "optional fields: libmount '{}', ours '{}'", lib.optional_fields,
             optional);
  // L3: the '\r' is the line's last byte, so it ends the super options.
  std::string_view super = ours.super_options;
  if (cr_dropped) super.remove_suffix(1);
  FUZZ_CHECK(lib.fs_options == unmangle_like_libmount(super), line, "super options: libmount '{}', ours '{}'",
             lib.fs_options, ours.super_options);
}

// Property 2.
void require_round_trip(const MountInfoEntry& entry, std::string_view line) {
  std::string rebuilt = fmt::format("{} {} {}:{} {} {} {}", entry.mount_id, entry.parent_id, entry.major, entry.minor,
                                    escape_mount_path(entry.root), escape_mount_path(entry.mount_point),
                                    entry.mount_options);
  for (const auto& field : entry.optional_fields) rebuilt += " " + field;
  rebuilt += fmt::format(" - {} {} {}", escape_mount_path(entry.fs_type), escape_mount_path(entry.source),
                         entry.super_options);
  const auto again = parse_mountinfo_line(rebuilt);
  FUZZ_CHECK(again.is_ok(), line, "the line rebuilt from its decoded fields is rejected: '{}': {}", rebuilt,
             again.error().message());
  FUZZ_CHECK(*again == entry, line, "the line rebuilt from its decoded fields reads differently: '{}'", rebuilt);
}

// L1-L5 and L7 for a line we reject in a text libmount accepts.
void require_known_leniency(std::string_view line) {
  // L2, then L3: what libmount reads of the line.
  std::string_view read = line.substr(0, line.find('\0'));
  if (read.ends_with('\r')) read.remove_suffix(1);
  std::size_t first = 0;
  while (first < read.size() && is_blank(read[first])) ++first;
  if (first == read.size() || read[first] == '#') return;  // L1
  if (read.substr(first).starts_with("Filename\t")) return;  // L7

  const LibReading alone = read_with_libmount(line);
  FUZZ_CHECK(alone.accepted && alone.entries.size() == 1, line,
             "libmount accepts the text, but not this line on its own ({} entries)", alone.entries.size());
  const LibEntry& lib = alone.entries.front();
  const std::string printed = render(lib, lib.source);
  // C2 in the printed form: the source read was "/dev/root".
  const bool is_the_line = printed == read || (lib.source != "/dev/root" && render(lib, "/dev/root") == read);
  const auto broken = kernel_invariant_broken(lib);
  if (is_the_line && read.size() == line.size()) {
    FUZZ_CHECK(broken.has_value(), line, "we reject a line in the kernel's exact form that libmount reads");
    return;  // L5
  }
  // L2, L3 or L4; what libmount read, in the kernel's form, is ours too.
  LibEntry normalised = lib;
  normalised.optional_fields = normalised_optional_fields(lib.optional_fields);
  const auto ours = parse_mountinfo_line(printed);
  if (!ours) {
    FUZZ_CHECK(broken.has_value(), printed,
               "we reject the kernel's form of what libmount read from '{}': {}",
               snapcell::linux_text::excerpt(line, 200), ours.error().message());
    return;  // L5
  }
  require_same(*ours, normalised, printed, false);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto ours = parse_mountinfo(text);
  const auto lines = split_lines(text);

  // Property 2, and the file's entries are its lines' entries.
  std::vector<MountInfoEntry> by_line;
  std::vector<std::string_view> rejected;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto entry = parse_mountinfo_line(lines[i]);
    if (!entry) {
      rejected.push_back(lines[i]);
      continue;
    }
    require_round_trip(*entry, lines[i]);
    by_line.push_back(std::move(entry).value());
  }
  if (ours) FUZZ_CHECK(*ours == by_line, text, "the file's entries are not its lines' entries");

  const LibReading lib = read_with_libmount(text);
  if (ours) {
    FUZZ_CHECK(lib.accepted, text, "we accept, libmount rejects ({})",
               lib.as_fstab ? "read as fstab" : "a line reported to the error callback or a failed parse");
    FUZZ_CHECK(lib.entries.size() == ours->size(), text, "{} entries, libmount {}", ours->size(), lib.entries.size());
    for (std::size_t i = 0; i < ours->size(); ++i)
      require_same((*ours)[i], lib.entries[i], lines[i], lines[i].ends_with('\r'));
    return 0;
  }
  if (!lib.accepted) return 0;  // both reject

  // We reject, libmount accepts: a leniency for every line we reject.
  if (rejected.empty()) {
    const auto repeated = snapcell::linux_text::first_repeated(by_line, [](const MountInfoEntry& e) { return e.mount_id; });
    FUZZ_CHECK(repeated.has_value(), text, "we reject a text whose every line we accept, but no mount id repeats: {}",
               ours.error().message());
    return 0;  // L6
  }
  for (const auto line : rejected) require_known_leniency(line);
  return 0;
}
