#pragma once
// The baseline: every "snapshot" a full copy of the origin, in a tmpfs of
// its own, mounted as a bind mount of that tmpfs:
//
//   <scratch>/<name>/origin   the origin's path, as given (as for overlay)
//   <scratch>/<name>/tree     a tmpfs "snapcell-copy:<name>" holding the copy,
//                             capped at the copy's size plus what one build
//                             may write
//
// The cap is the copy's answer to a runaway write (ENOSPC in the build, I7),
// as the layers' tmpfs is overlay's: the copy is made first, under tmpfs's
// default cap (half of RAM), then the tmpfs is resized to what the copy
// uses plus `write_bytes`.
//
// A bind mount's source and root in mountinfo are its filesystem's: here
// "snapcell-copy:<name>" and "/", unique to the volume, so they prove that a
// mount is the session's own. Being a filesystem of its own, the copy also
// has a device other than the run dir's, which the ownership proof needs.
// A volume without its tmpfs (a snapshot that failed before mounting it) is
// still listed, proven by place and removed.
//
// A shifted volume (`shift`: a user namespace's id range) is a copy whose
// owners are written shifted into the range, as root of a namespace
// mapping it sees the origin: the copy is the session's own, so its owners
// may differ from the origin's, and no idmapped mount is needed (a tmpfs
// takes one from Linux 6.3 only). Nothing of the origin changes.

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

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
  static constexpr std::string_view source_prefix = "snapcell-copy:";

  // `write_bytes`: how much one snapshot's build may write beyond the copy.
  // `shift`: owners written into this range (count 0: as the origin's).
  explicit CopyVolumes(std::string scratch_dir, std::uint64_t write_bytes = scratch_volumes::default_write_bytes,
                       IdRange shift = {})
      : scratch_(std::move(scratch_dir)), write_bytes_(write_bytes), shift_(shift) {
    validate_absolute_path("copy scratch dir", scratch_).or_throw();
    if (write_bytes_ == 0) throw Failure(logic_error("copy write cap", scratch_, "must be positive"));
    if (shift_.count > 0) validate_id_range(shift_).or_throw();
  }

  static std::string source_of(const std::string& name) { return std::string(source_prefix) + name; }

  const std::string& scratch_dir() const { return scratch_; }

  Result<MountSpec> snapshot(const std::string& origin, const std::string& name) {
    if (Status valid = validate_volume_name(name); !valid) return valid.error();
    if (Status valid = validate_absolute_path("origin", origin); !valid) return valid.error();
    if (Status valid = scratch_volumes::validate_origin_directory(origin); !valid) return valid.error();
    auto fill = [&](int volume_fd, const std::string& shown) -> Status {
      if (::mkdirat(volume_fd, tree_dir, 0700) != 0) return errno_error("mkdirat", join_path(shown, tree_dir));
      const std::string tree = tree_path(name);
      if (Status mounted = scratch_volumes::mount_own_tmpfs(source_of(name), tree, 0); !mounted) return mounted;
      Status filled = fill_and_cap(origin, tree);
      if (!filled)
        if (auto mounts = read_mountinfo())  // else the volume could not be removed
          (void)scratch_volumes::unmount_own_tmpfs(source_of(name), tree, *mounts);
      return filled;
    };
    Status made = scratch_volumes::create_volume(scratch_, name, origin, fill);
    if (!made) return made.error();
    return mount_spec(name);
  }

  // Refuses (EBUSY) while a mount of the copy, or of anything in it, is in
  // mountinfo: a bind mount outlives the unmount of its source. Then
  // unmounts the copy's tmpfs.
  Status remove(const std::string& name) {
    return scratch_volumes::remove_volume(scratch_, name, [&](int, const std::string&) -> Result<bool> {
      auto mounts = read_mountinfo();
      if (!mounts) return mounts.error();
      const std::string tree = tree_path(name);
      auto own = scratch_volumes::own_tmpfs(source_of(name), tree, *mounts);
      if (!own) return own.error();
      if (*own) {
        for (const auto& entry : *mounts)
          if (&entry != *own && entry.major == (*own)->major && entry.minor == (*own)->minor) return true;
        if (::umount2(tree.c_str(), UMOUNT_NOFOLLOW) != 0) return errno_error("umount2", tree);
        return false;
      }
      // No tmpfs: the copy, if any, is a directory of the scratch filesystem.
      auto place = place_in_filesystem(tree);
      if (!place) return place.code() == ENOENT ? Result<bool>(false) : Result<bool>(place.error());
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
    // Shifted as this object copies: nothing on disk says how a copy was made.
    return MountSpec{place->mount.source, "bind", tree_path(name), place->root, shift_.count > 0};
  }

 private:
  std::string tree_path(const std::string& name) const { return join_path(join_path(scratch_, name), tree_dir); }

  // Copies the origin onto the tmpfs at `tree`, then caps the tmpfs at what
  // the copy uses plus write_bytes_ (a remount keeps its files).
  Status fill_and_cap(const std::string& origin, const std::string& tree) const {
    auto tree_fd = open_fd(tree, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!tree_fd) return tree_fd.error();
    if (Status copied = copy_tree_onto(origin, tree_fd->get(), tree, shift_); !copied) return copied;
    struct statvfs vfs {};
    if (::fstatvfs(tree_fd->get(), &vfs) != 0) return errno_error("fstatvfs", tree);
    const std::uint64_t used = static_cast<std::uint64_t>(vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize;
    const std::string options = fmt::format("size={}", used + write_bytes_);
    if (::mount(nullptr, tree.c_str(), nullptr, MS_REMOUNT | MS_NOSUID | MS_NODEV, options.c_str()) != 0)
      return errno_error("mount(MS_REMOUNT, tmpfs size)", tree);
    return {};
  }

  std::string scratch_;
  std::uint64_t write_bytes_;
  IdRange shift_;
};

static_assert(VolumeManager<CopyVolumes>);

}  // namespace snapcell::linux_sys
