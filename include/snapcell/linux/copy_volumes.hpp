#pragma once
// The baseline: every "snapshot" a full copy of the origin, made with
// copy_tree into <scratch>/<name>/tree, the origin recorded as for overlay
// (<scratch>/<name>/origin), and mounted as a bind mount of the copy.
//
// A bind mount's source in mountinfo is the device of the filesystem it was
// taken from, shared by every mount of it; its root is the copy's path inside
// that filesystem. The two together are what identifies the session's mount.
// mount(2) needs the directory itself as its source: MountSpec carries it in
// `options` for fs_type "bind" (see SyscallMounter::mount).
//
// The scratch directory must be on another filesystem than the run dir: a
// bind mount has the st_dev of the filesystem it comes from, and the core
// proves a mount point by its device differing from its parent's. On the
// same filesystem every mount of a copy is refused (safely: left, reported).

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "snapcell/error.hpp"
#include "snapcell/linux/overlay_volumes.hpp"
#include "snapcell/linux/tree.hpp"
#include "snapcell/names.hpp"
#include "snapcell/policies.hpp"

namespace snapcell::linux_sys {

class CopyVolumes {
 public:
  static constexpr std::string_view kind = "copy";  // recorded in the journal: reap must run the same
  static constexpr const char* tree_dir = "tree";

  explicit CopyVolumes(std::string scratch_dir) : scratch_(std::move(scratch_dir)) {
    validate_absolute_path("copy scratch dir", scratch_).or_throw();
  }

  const std::string& scratch_dir() const { return scratch_; }

  Result<MountSpec> snapshot(const std::string& origin, const std::string& name) {
    if (Status valid = validate_volume_name(name); !valid) return valid.error();
    if (Status valid = validate_absolute_path("origin", origin); !valid) return valid.error();
    if (Status valid = scratch_volumes::validate_origin_directory(origin); !valid) return valid.error();
    Status made = scratch_volumes::create_volume(scratch_, name, origin, [&](int volume_fd, const std::string&) {
      return copy_tree_at(origin, volume_fd, tree_dir);
    });
    if (!made) return made.error();
    return mount_spec(name);
  }

  // Refuses (EBUSY) while a mount of the copy, or of anything in it, is in
  // mountinfo: a bind mount outlives the removal of its source directory.
  Status remove(const std::string& name) {
    return scratch_volumes::remove_volume(scratch_, name, [&](int, const std::string&) -> Result<bool> {
      auto place = place_in_filesystem(tree_path(name));
      if (!place) return place.code() == ENOENT ? Result<bool>(false) : Result<bool>(place.error());
      auto mounts = read_mountinfo();
      if (!mounts) return mounts.error();
      for (const auto& entry : *mounts) {
        if (entry.major != place->mount.major || entry.minor != place->mount.minor) continue;
        if (entry.root == place->root || entry.root.rfind(place->root + "/", 0) == 0) return true;
      }
      return false;
    });
  }

  Result<std::vector<VolumeInfo>> list(const std::string& prefix) { return scratch_volumes::list(scratch_, prefix); }

  Result<MountSpec> mount_spec(const std::string& name) {
    auto volume = scratch_volumes::existing_volume(scratch_, name);
    if (!volume) return volume.error();
    auto place = place_in_filesystem(tree_path(name));
    if (!place) return place.error();
    return MountSpec{place->mount.source, "bind", tree_path(name), place->root};
  }

 private:
  std::string tree_path(const std::string& name) const { return join_path(join_path(scratch_, name), tree_dir); }

  std::string scratch_;
};

static_assert(VolumeManager<CopyVolumes>);

}  // namespace snapcell::linux_sys
