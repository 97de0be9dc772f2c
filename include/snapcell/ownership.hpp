#pragma once
// The proof that a path is the session's own mount, demanded before any
// unmount, kill-by-mount or rmdir. The field failure it prevents: a snapshot
// that was never created, a mount that never happened, and a cleanup that
// treated the bare directory on `/` as the mount and killed everything on `/`.

#include <string>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/policies.hpp"

namespace snapcell {

struct MountProof {
  std::string target;
  DeviceId device = 0;
  int mount_id = 0;
};

// The device that counts is stat's: it is what /proc/PID/root and cwd of a
// process inside report, and btrfs gives each subvolume its own.
// Pure: decides from observed facts only, so the same rule runs against the
// real kernel and the fake one, and can be fuzzed on its own.
inline Result<MountProof> decide_ownership(const std::string& path, const PathFacts& facts,
                                           const std::string& expected_source) {
  auto refuse = [&](std::string why) {
    return Result<MountProof>{logic_error("prove own mount", path, std::move(why))};
  };
  if (expected_source.empty()) return refuse("no mount source was recorded for this session");
  if (facts.path_device == facts.root_device)
    return refuse(fmt::format("is on the root filesystem's device {}", facts.root_device));
  if (facts.path_device == facts.parent_device)
    return refuse(fmt::format("is not a mount point (same device {} as its parent)", facts.path_device));
  if (facts.mounts_at_path.empty()) return refuse("mountinfo lists no mount at this path");
  const MountEntry& top = facts.mounts_at_path.back();
  const std::string identity = mount_identity(top.source, top.root);
  if (identity != expected_source)
    return refuse(fmt::format("the mount on top has source '{}', not the session's '{}'", identity, expected_source));
  return MountProof{path, facts.path_device, top.mount_id};
}

// Not a mount point at all: what a never-mounted or already-unmounted mount
// point looks like. Only then may the directory itself be removed.
inline bool is_plain_directory(const PathFacts& facts) {
  return facts.path_device == facts.parent_device && facts.mounts_at_path.empty();
}

}  // namespace snapcell
