// Fuzz target: the sdist member-path validator (include/snapcell/archive_paths.hpp).
//
// Input: one mode byte, then
//   0, 1  member lines, '\n'-separated, each KIND PATH [TAB TARGET], KIND one
//         of f d l h c b p s (file, directory, symlink, hardlink, char and
//         block device, fifo, socket); mode 0 adds them to a tree under one
//         top directory, mode 1 to a tree that allows any layout (a wheel);
//   2     a filename for parse_sdist_filename, then validate_project_name on it.
//
// Properties:
//  - nothing accepted resolves outside the tree: the accepted members,
//    extracted into a simulated tree by an independent resolver
//    (harness/archives/tree_resolver.hpp: symlinks followed in every
//    component, ".." taken physically), land inside, and so do every
//    symlink's and hardlink's targets;
//  - every accepted path is relative, of plain components (no "", ".",
//    ".."), holds no byte below 0x20, no 0x7f and no backslash, is at most
//    1024 bytes; it is a regular file, directory, symlink or hardlink; under
//    one top directory, every member starts with it;
//  - an accepted sdist filename is exactly project-version + suffix, both
//    names of the allowed characters only, and the version has no '-'.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "../harness/archives/tree_resolver.hpp"
#include "byte_reader.hpp"
#include "check.hpp"
#include "snapcell/archive_paths.hpp"

namespace {

using namespace snapcell;
using snapcell::fuzz::ByteReader;

MemberKind kind_of(char letter) {
  switch (letter) {
    case 'f': return MemberKind::regular;
    case 'd': return MemberKind::directory;
    case 'l': return MemberKind::symlink;
    case 'h': return MemberKind::hardlink;
    case 'c': return MemberKind::char_device;
    case 'b': return MemberKind::block_device;
    case 'p': return MemberKind::fifo;
    case 's': return MemberKind::socket;
    default: return MemberKind::unknown;
  }
}

void check_plain_path(std::string_view path, std::string_view input) {
  FUZZ_CHECK(!path.empty() && path.size() <= max_member_path_bytes, input, "accepted path of {} bytes", path.size());
  FUZZ_CHECK(path.front() != '/' && path.back() != '/', input, "accepted '{}'", linux_text::excerpt(path));
  for (const char c : path) {
    const auto byte = static_cast<unsigned char>(c);
    FUZZ_CHECK(byte >= 0x20 && byte != 0x7f && c != '\\', input, "accepted byte 0x{:02x} in '{}'", byte,
               linux_text::excerpt(path));
  }
  for (const auto& component : testing::split_components(path))
    FUZZ_CHECK(!component.empty() && component != "." && component != "..", input, "accepted a '{}' component in '{}'",
               component, linux_text::excerpt(path));
}

void check_members(ByteReader& in, bool single_top) {
  const std::string_view input = in.rest();
  auto tree = single_top ? MemberTree::under_first_top() : MemberTree::anywhere();
  std::size_t start = 0;
  while (start < input.size()) {
    std::size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    const std::string_view line = input.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    const std::string_view rest = line.substr(1);
    const auto tab = rest.find('\t');
    ArchiveMember member{std::string(rest.substr(0, tab)), kind_of(line.front()),
                         tab == std::string_view::npos ? std::string() : std::string(rest.substr(tab + 1))};
    const auto status = tree.add(member);
    if (!status) {
      const std::string message = status.error().message();
      FUZZ_CHECK(message.find('\n') == std::string::npos, input, "a refusal of two lines: {}", message);
    }
  }

  if (const auto whole = tree.finish(); !whole) {
    FUZZ_CHECK(whole.error().message().find('\n') == std::string::npos, input, "a refusal of two lines: {}",
               whole.error().message());
    return;  // the tree as a whole is refused: nothing of it is extracted
  }
  for (const auto& [path, entry] : tree.members()) {
    check_plain_path(path, input);
    FUZZ_CHECK(entry.kind == MemberKind::regular || entry.kind == MemberKind::directory ||
                   entry.kind == MemberKind::symlink || entry.kind == MemberKind::hardlink,
               input, "accepted a {} at '{}'", member_kind_name(entry.kind), linux_text::excerpt(path));
    if (single_top)
      FUZZ_CHECK(path == tree.top() || path.starts_with(tree.top() + "/"), input, "'{}' is not under top '{}'",
                 linux_text::excerpt(path), linux_text::excerpt(tree.top()));
    if (entry.kind == MemberKind::hardlink)
      FUZZ_CHECK(tree.members().contains(entry.link_target), input, "hardlink '{}' to a non-member '{}'",
                 linux_text::excerpt(path), linux_text::excerpt(entry.link_target));
  }
  const auto escape = testing::ExtractedTree(tree).first_escape();
  FUZZ_CHECK(!escape, input, "an accepted member resolves outside the tree: {}", escape ? linux_text::excerpt(*escape, 300) : "");
}

void check_filename(ByteReader& in) {
  const std::string_view filename = in.rest();
  const auto name = parse_sdist_filename(filename);
  if (!name) {
    FUZZ_CHECK(name.error().message().find('\n') == std::string::npos, filename, "a refusal of two lines");
    return;
  }
  FUZZ_CHECK(filename == name->top_dir() + std::string(archive_format_suffix(name->format)), filename,
             "'{}' read as '{}' '{}'", linux_text::excerpt(filename), name->project, name->version);
  FUZZ_CHECK(validate_project_name(name->project).is_ok(), filename, "project '{}' is not a valid name", name->project);
  FUZZ_CHECK(validate_version(name->version).is_ok(), filename, "version '{}' is not valid", name->version);
  FUZZ_CHECK(name->version.find('-') == std::string::npos, filename, "version '{}' holds '-'", name->version);
  const std::string normalized = normalize_project_name(name->project);
  FUZZ_CHECK(normalize_project_name(normalized) == normalized, filename, "normalizing '{}' twice differs", name->project);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  switch (in.byte() % 3) {
    case 0: check_members(in, true); break;
    case 1: check_members(in, false); break;
    case 2: check_filename(in); break;
  }
  return 0;
}
