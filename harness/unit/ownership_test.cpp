// Unit tests of ownership.hpp: decide_ownership proves a path is the
// session's own mount only from consistent facts, and refuses each of the
// ways a bare directory, a foreign mount or a stale record can look like one.

#include "snapcell/ownership.hpp"

#include <string>

#include <catch2/catch.hpp>

using namespace std::string_literals;
using snapcell::decide_ownership;
using snapcell::is_plain_directory;
using snapcell::MountEntry;
using snapcell::PathFacts;

namespace {

const std::string kPath = "/run/snapcell/ci-00000000deadbeef";
const std::string kSource = "/dev/mapper/vg0-ci--00000000deadbeef";
constexpr snapcell::DeviceId kRoot = 2049;       // 8:1, the root filesystem
constexpr snapcell::DeviceId kRunDir = 25;       // the tmpfs holding the run dir
constexpr snapcell::DeviceId kSnapshot = 64771;  // 253:3, the session's snapshot

MountEntry our_mount() { return MountEntry{812, 30, kPath, kSource, "ext4", kSnapshot}; }
MountEntry foreign_mount() { return MountEntry{913, 812, kPath, "/dev/sdb1", "ext4", kSnapshot}; }

// The facts of a path on which the session's snapshot is mounted.
PathFacts mounted_facts() {
  PathFacts facts;
  facts.path_device = kSnapshot;
  facts.parent_device = kRunDir;
  facts.root_device = kRoot;
  facts.mounts_at_path = {our_mount()};
  return facts;
}

std::string refusal(const PathFacts& facts, const std::string& expected_source = kSource) {
  auto result = decide_ownership(kPath, facts, expected_source);
  return result ? "<accepted>"s : result.error().detail;
}

}  // namespace

TEST_CASE("ownership: the session's own mount on top is proven, with its device and mount id", "[ownership]") {
  auto proof = decide_ownership(kPath, mounted_facts(), kSource);
  REQUIRE(proof);
  CHECK(proof->target == kPath);
  CHECK(proof->device == kSnapshot);
  CHECK(proof->mount_id == 812);
}

TEST_CASE("ownership: a mount of ours on top of a foreign mount is proven by the top entry", "[ownership]") {
  PathFacts facts = mounted_facts();
  MountEntry below = foreign_mount();
  below.mount_id = 700;
  facts.mounts_at_path = {below, our_mount()};
  auto proof = decide_ownership(kPath, facts, kSource);
  REQUIRE(proof);
  CHECK(proof->mount_id == 812);
  CHECK(proof->device == kSnapshot);
}

TEST_CASE("ownership: a bare directory on the root device is refused as on the root filesystem", "[ownership]") {
  // The field failure: the snapshot and the mount never happened, and the
  // mount point is a plain directory on /.
  PathFacts facts;
  facts.path_device = kRoot;
  facts.parent_device = kRoot;
  facts.root_device = kRoot;
  CHECK(refusal(facts) == "is on the root filesystem's device 2049");
}

TEST_CASE("ownership: a path on the root device is refused even when mountinfo lists our source", "[ownership]") {
  PathFacts facts = mounted_facts();
  facts.path_device = kRoot;
  facts.mounts_at_path.front().device = kRoot;
  CHECK(refusal(facts) == "is on the root filesystem's device 2049");
}

TEST_CASE("ownership: a bare directory on the run dir's device is refused as not a mount point", "[ownership]") {
  PathFacts facts = mounted_facts();
  facts.path_device = kRunDir;
  facts.mounts_at_path.clear();
  CHECK(refusal(facts) == "is not a mount point (same device 25 as its parent)");
}

TEST_CASE("ownership: same device as the parent is refused even when mountinfo lists a mount", "[ownership]") {
  PathFacts facts = mounted_facts();
  facts.parent_device = kSnapshot;
  CHECK(refusal(facts) == "is not a mount point (same device 64771 as its parent)");
}

TEST_CASE("ownership: a device change without a mountinfo entry is refused", "[ownership]") {
  PathFacts facts = mounted_facts();
  facts.mounts_at_path.clear();
  CHECK(refusal(facts) == "mountinfo lists no mount at this path");
}

TEST_CASE("ownership: a mount on top with another source is refused, naming both sources", "[ownership]") {
  PathFacts facts = mounted_facts();
  facts.mounts_at_path = {foreign_mount()};
  CHECK(refusal(facts) ==
        "the mount on top has source '/dev/sdb1', not the session's '/dev/mapper/vg0-ci--00000000deadbeef'");
}

TEST_CASE("ownership: stacked mounts with ours underneath are refused by the mount on top", "[ownership]") {
  PathFacts facts = mounted_facts();
  facts.mounts_at_path = {our_mount(), foreign_mount()};
  CHECK(refusal(facts) ==
        "the mount on top has source '/dev/sdb1', not the session's '/dev/mapper/vg0-ci--00000000deadbeef'");
}

TEST_CASE("ownership: a source that merely shares a prefix with ours is another source", "[ownership]") {
  PathFacts facts = mounted_facts();
  facts.mounts_at_path.front().source = kSource + "0";
  CHECK(refusal(facts) == "the mount on top has source '/dev/mapper/vg0-ci--00000000deadbeef0', not the "
                          "session's '/dev/mapper/vg0-ci--00000000deadbeef'");
  facts.mounts_at_path.front().source = "";
  CHECK(refusal(facts) == "the mount on top has source '', not the session's '/dev/mapper/vg0-ci--00000000deadbeef'");
}

TEST_CASE("ownership: a btrfs subvolume is proven by source and root, whatever its mountinfo device", "[ownership]") {
  PathFacts facts = mounted_facts();
  facts.mounts_at_path.front().device = 64772;  // btrfs: st_dev of a subvolume is not mountinfo's
  facts.mounts_at_path.front().root = "/snapshots/ci-00000000deadbeef";
  const std::string identity = kSource + "[/snapshots/ci-00000000deadbeef]";
  auto proof = decide_ownership(kPath, facts, identity);
  REQUIRE(proof);
  CHECK(proof->device == kSnapshot);  // stat's device: what a process inside reports
  CHECK(refusal(facts) == "the mount on top has source '" + identity + "', not the session's '" + kSource + "'");
}

TEST_CASE("ownership: another subvolume of the same device is refused by its root", "[ownership]") {
  PathFacts facts = mounted_facts();
  facts.mounts_at_path.front().root = "/base";
  CHECK(refusal(facts, kSource + "[/snapshots/ci-00000000deadbeef]") ==
        "the mount on top has source '" + kSource + "[/base]', not the session's '" + kSource +
            "[/snapshots/ci-00000000deadbeef]'");
}

TEST_CASE("ownership: mount_identity adds the root only when it is not the filesystem's own", "[ownership]") {
  CHECK(snapcell::mount_identity("overlay-x", "/") == "overlay-x");
  CHECK(snapcell::mount_identity("/dev/loop0", "/snap") == "/dev/loop0[/snap]");
}

TEST_CASE("ownership: an empty expected source is refused before any fact is looked at", "[ownership]") {
  CHECK(refusal(mounted_facts(), "") == "no mount source was recorded for this session");
  // Even where an empty source would match the mount on top.
  PathFacts facts = mounted_facts();
  facts.mounts_at_path.front().source = "";
  CHECK(refusal(facts, "") == "no mount source was recorded for this session");
  // And before the root-device check.
  facts.path_device = kRoot;
  CHECK(refusal(facts, "") == "no mount source was recorded for this session");
}

TEST_CASE("ownership: a refusal names the prove operation and the path, with code 0", "[ownership]") {
  PathFacts facts = mounted_facts();
  facts.mounts_at_path.clear();
  auto result = decide_ownership(kPath, facts, kSource);
  REQUIRE_FALSE(result);
  CHECK(result.error().operation == "prove own mount");
  CHECK(result.error().target == kPath);
  CHECK(result.code() == 0);
  CHECK(result.error().message() ==
        "prove own mount(/run/snapcell/ci-00000000deadbeef): mountinfo lists no mount at this path");
}

TEST_CASE("ownership: is_plain_directory only for same device as parent and no mount at the path", "[ownership]") {
  PathFacts bare;
  bare.path_device = kRunDir;
  bare.parent_device = kRunDir;
  bare.root_device = kRoot;
  CHECK(is_plain_directory(bare));

  PathFacts bare_on_root;
  bare_on_root.path_device = kRoot;
  bare_on_root.parent_device = kRoot;
  bare_on_root.root_device = kRoot;
  CHECK(is_plain_directory(bare_on_root));

  CHECK_FALSE(is_plain_directory(mounted_facts()));

  PathFacts same_device_but_listed = bare;  // e.g. a bind mount of the parent's filesystem
  same_device_but_listed.mounts_at_path = {our_mount()};
  CHECK_FALSE(is_plain_directory(same_device_but_listed));

  PathFacts other_device_unlisted = mounted_facts();
  other_device_unlisted.mounts_at_path.clear();
  CHECK_FALSE(is_plain_directory(other_device_unlisted));
}

TEST_CASE("ownership: a proven mount is never a plain directory", "[ownership]") {
  PathFacts facts = mounted_facts();
  REQUIRE(decide_ownership(kPath, facts, kSource));
  CHECK_FALSE(is_plain_directory(facts));
}
