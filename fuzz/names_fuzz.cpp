// Fuzz target: the validators of what users and journals hand in
// (include/snapcell/names.hpp, journal.hpp, ownership.hpp).
//
// Input: one mode byte, then the mode's fields (strings end at a NUL byte):
//   0  prefix NUL name       validate_prefix, is_session_name
//   1  path                  validate_absolute_path
//   2  prefix NUL run_dir NUL record
//                            parse_plan, serialize_plan, validate_plan
//   3  bytes                 decide_ownership on PathFacts built from them
//
// Properties:
//  - an accepted prefix is 1-24 of [a-z0-9-], starts with a letter or digit
//    and does not end with '-'; a session name is the prefix, '-' and 16
//    lower-case hex digits, and session_name() of a valid prefix is one;
//  - an accepted absolute path starts with '/', is not "/", holds no "//",
//    no "." or ".." component, no trailing '/' and no control byte;
//  - for an accepted record x: parse(serialize(parse(x))) == parse(x), and
//    serialize(parse(x)) == x (the format is strict: one reading per text);
//    validate_plan never accepts a plan whose mount point is not
//    run_dir + "/" + name, whose volume is not its name, or whose name is
//    not a session name of the prefix;
//  - an ownership proof never names a path on the root device or on its
//    parent's device, and only ever the top mount with the session's source.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "byte_reader.hpp"
#include "check.hpp"
#include "snapcell/journal.hpp"
#include "snapcell/names.hpp"
#include "snapcell/ownership.hpp"

namespace {

using namespace snapcell;
using snapcell::fuzz::ByteReader;

void check_prefix_and_name(ByteReader& in) {
  const std::string_view prefix = in.until('\0');
  const std::string_view name = in.rest();
  const bool valid_prefix = validate_prefix(prefix).is_ok();
  if (valid_prefix) {
    FUZZ_CHECK(!prefix.empty() && prefix.size() <= max_prefix_length, prefix, "prefix length {}", prefix.size());
    FUZZ_CHECK(prefix.front() != '-' && prefix.back() != '-', prefix, "prefix starts or ends with '-'");
    for (const char c : prefix)
      FUZZ_CHECK(is_lower_alnum(c) || c == '-', prefix, "prefix holds byte 0x{:02x}", static_cast<unsigned char>(c));
  }
  if (is_session_name(prefix, name)) {
    FUZZ_CHECK(name.size() == prefix.size() + 17 && name.starts_with(prefix) && name[prefix.size()] == '-', name,
               "session name does not start with prefix '{}-'", prefix);
    for (const char c : name.substr(prefix.size() + 1))
      FUZZ_CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'), name, "nonce holds byte 0x{:02x}",
                 static_cast<unsigned char>(c));
  }
  if (valid_prefix) {
    std::uint64_t nonce = 0;
    for (const char c : name.substr(0, 8)) nonce = nonce << 8 | static_cast<unsigned char>(c);
    const std::string made = session_name(prefix, nonce);
    FUZZ_CHECK(is_session_name(prefix, made), made, "session_name() is not a session name of '{}'", prefix);
  }
}

void check_absolute_path(ByteReader& in) {
  const std::string_view path = in.rest();
  if (!validate_absolute_path("fuzzed path", path)) return;
  FUZZ_CHECK(path.starts_with('/') && path != "/", path, "accepted a path that is not absolute or is the root");
  FUZZ_CHECK(path.find("//") == std::string_view::npos && !path.ends_with('/'), path, "accepted an empty component");
  FUZZ_CHECK(path.size() <= 4095, path, "accepted {} bytes", path.size());
  for (std::size_t start = 1; start <= path.size();) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view component = path.substr(start, end - start);
    FUZZ_CHECK(component != "." && component != "..", path, "accepted a '{}' component", component);
    start = end + 1;
  }
  for (const char c : path) {
    const auto byte = static_cast<unsigned char>(c);
    FUZZ_CHECK(byte >= 0x20 && byte != 0x7f, path, "accepted control byte 0x{:02x}", byte);
  }
}

void check_plan(ByteReader& in) {
  const std::string_view prefix = in.until('\0');
  const std::string_view run_dir = in.until('\0');
  const std::string_view record = in.rest();
  const auto plan = parse_plan(record);
  if (!plan) return;
  const std::string serialized = serialize_plan(*plan);
  const auto again = parse_plan(serialized);
  FUZZ_CHECK(again.is_ok(), record, "the serialized plan is rejected: {}", again.error().message());
  FUZZ_CHECK(*again == *plan, record, "the serialized plan reads differently");
  FUZZ_CHECK(serialized == record, record, "serialize(parse(x)) is not x: '{}'", linux_text::excerpt(serialized, 400));

  if (!validate_plan(*plan, prefix, run_dir)) return;
  FUZZ_CHECK(plan->mount_point == std::string(run_dir) + "/" + plan->name, record,
             "accepted mount point '{}' for run dir '{}'", plan->mount_point, run_dir);
  FUZZ_CHECK(plan->volume == plan->name, record, "accepted volume '{}' for session '{}'", plan->volume, plan->name);
  FUZZ_CHECK(is_session_name(prefix, plan->name), record, "accepted name '{}' for prefix '{}'", plan->name, prefix);
  FUZZ_CHECK(!plan->origin.empty() && plan->origin != plan->volume, record, "accepted origin '{}'", plan->origin);
}

// Few distinct values, so that equal devices and matching sources are common.
MountEntry mount_entry(ByteReader& in) {
  static constexpr std::string_view sources[] = {"/dev/vg/snap", "/dev/vg/other", "tmpfs", "", "/dev/vda"};
  static constexpr std::string_view roots[] = {"/", "/sub", "/"};
  MountEntry entry;
  entry.mount_id = in.in_range(0, 40);
  entry.target = "/run/snapcell/s";
  entry.source = std::string(in.pick(sources));
  entry.root = std::string(in.pick(roots));
  entry.device = static_cast<DeviceId>(in.in_range(0, 4));
  return entry;
}

void check_ownership(ByteReader& in) {
  static constexpr std::string_view paths[] = {"/run/snapcell/s", "/", "/run/snapcell"};
  static constexpr std::string_view expected[] = {"/dev/vg/snap", "/dev/vg/snap[/sub]", "tmpfs", "", "/dev/vda"};
  const std::string path(in.pick(paths));
  const std::string expected_source(in.pick(expected));
  PathFacts facts;
  facts.path_device = static_cast<DeviceId>(in.in_range(0, 4));
  facts.parent_device = static_cast<DeviceId>(in.in_range(0, 4));
  facts.root_device = static_cast<DeviceId>(in.in_range(0, 4));
  for (int n = in.in_range(0, 3); n > 0; --n) facts.mounts_at_path.push_back(mount_entry(in));
  for (int n = in.in_range(0, 2); n > 0; --n) facts.mounts_below.push_back(mount_entry(in));

  const auto proof = decide_ownership(path, facts, expected_source);
  if (!proof) return;
  const std::string shown = fmt::format("path {} devices path {} parent {} root {}, {} mounts, expected '{}'", path,
                                        facts.path_device, facts.parent_device, facts.root_device,
                                        facts.mounts_at_path.size(), expected_source);
  FUZZ_CHECK(facts.path_device != facts.root_device, shown, "a proof for a path on the root device");
  FUZZ_CHECK(facts.path_device != facts.parent_device, shown, "a proof for a path on its parent's device");
  FUZZ_CHECK(!is_plain_directory(facts), shown, "a proof for a plain directory");
  FUZZ_CHECK(proof->device == facts.path_device && proof->target == path, shown, "a proof for another target");
  FUZZ_CHECK(!expected_source.empty() && !facts.mounts_at_path.empty(), shown, "a proof without a recorded source");
  const MountEntry& top = facts.mounts_at_path.back();
  FUZZ_CHECK(mount_identity(top.source, top.root) == expected_source && proof->mount_id == top.mount_id, shown,
             "a proof for mount {} ('{}' at '{}'), not the top one with the session's source", proof->mount_id,
             top.source, top.root);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  switch (in.byte() % 4) {
    case 0: check_prefix_and_name(in); break;
    case 1: check_absolute_path(in); break;
    case 2: check_plan(in); break;
    case 3: check_ownership(in); break;
  }
  return 0;
}
