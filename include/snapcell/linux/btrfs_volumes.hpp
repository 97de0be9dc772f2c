#pragma once
// Snapshots as btrfs subvolume snapshots, by ioctl: the origin is a
// subvolume (a directory with inode 256 on btrfs), each snapshot a
// subvolume <snapshot_dir>/<name> on the same filesystem.
//
// The origin is recorded in the extended attribute user.snapcell.origin of
// the snapshot's root directory rather than in a sidecar file: it lives and
// dies with the subvolume (SNAP_DESTROY takes it along, so no record can
// outlive its volume or be found stale under a reused name), and there is no
// second removal that could fail after the first succeeded. A snapshot of
// a snapshot inherits its origin's attribute: it is overwritten at once; a
// crash before that (or a snapshot made by other tools) reads "?".
//
// A mount of a snapshot is identified, as mountinfo shows it, by the
// filesystem's device (btrfs prints its own device name as the source) and
// the subvolume's path from the top-level subvolume (the mount's root).
//
// A per-snapshot write cap, when asked for, is a btrfs qgroup limit on what
// the snapshot holds exclusively (max_excl): what a build writes, not what it
// shares with its origin. Writes past it fail with EDQUOT in the build
// instead of filling the filesystem every session shares (I7). It needs
// quotas enabled on the filesystem (`btrfs quota enable <mount>`), which is
// the owner's choice and costs every write some accounting: we never enable
// them. The snapshot's qgroup 0/<subvolid> is made by the kernel with the
// snapshot; after SNAP_DESTROY it stays, shown stale, until the cleaner has
// dropped the subvolume (the next transaction commit, up to the commit
// interval), and then the kernel deletes it itself (measured on 6.18: gone
// within ~24 s idle, at once after a sync). So remove() leaves it to the
// kernel rather than retrying QGROUP_CREATE(create=0), which fails EBUSY
// until then.

#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/linux/sys.hpp"
#include "snapcell/linux/tree.hpp"
#include "snapcell/names.hpp"
#include "snapcell/policies.hpp"

namespace snapcell::linux_sys {

namespace btrfs {

// The root directory of every subvolume (BTRFS_FIRST_FREE_OBJECTID).
inline constexpr ino_t subvolume_root_inode = 256;
inline constexpr const char* origin_xattr = "user.snapcell.origin";
inline constexpr std::string_view unknown_origin = "?";

// A directory fd that is the root of a btrfs subvolume, or EINVAL saying which
// part is missing.
inline Status check_subvolume(int fd, const std::string& shown) {
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) return errno_error("fstatfs", shown);
  if (static_cast<unsigned long>(fs.f_type) != BTRFS_SUPER_MAGIC)
    return Error{"check btrfs subvolume", shown, EINVAL, "is not on btrfs"};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno_error("fstat", shown);
  if (!S_ISDIR(st.st_mode) || st.st_ino != subvolume_root_inode)
    return Error{"check btrfs subvolume", shown, EINVAL, "is not the root of a subvolume (inode 256)"};
  return {};
}

// The subvolume id of the subvolume an fd is in: INO_LOOKUP of inode 256
// returns only the tree id and needs no privilege.
inline Result<std::uint64_t> subvolume_id(int fd, const std::string& shown) {
  btrfs_ioctl_ino_lookup_args args{};
  args.treeid = 0;
  args.objectid = subvolume_root_inode;
  if (::ioctl(fd, BTRFS_IOC_INO_LOOKUP, &args) != 0) return errno_error("ioctl BTRFS_IOC_INO_LOOKUP", shown);
  return static_cast<std::uint64_t>(args.treeid);
}

inline Status create_subvolume(int dir_fd, const std::string& name, const std::string& shown) {
  btrfs_ioctl_vol_args args{};
  if (name.size() > BTRFS_PATH_NAME_MAX) return logic_error("ioctl BTRFS_IOC_SUBVOL_CREATE", shown, "name too long");
  std::memcpy(args.name, name.data(), name.size());
  if (::ioctl(dir_fd, BTRFS_IOC_SUBVOL_CREATE, &args) != 0) return errno_error("ioctl BTRFS_IOC_SUBVOL_CREATE", shown);
  return {};
}

inline Status destroy_subvolume(int dir_fd, const std::string& name, const std::string& shown) {
  btrfs_ioctl_vol_args args{};
  if (name.size() > BTRFS_PATH_NAME_MAX) return logic_error("ioctl BTRFS_IOC_SNAP_DESTROY", shown, "name too long");
  std::memcpy(args.name, name.data(), name.size());
  if (::ioctl(dir_fd, BTRFS_IOC_SNAP_DESTROY, &args) != 0) return errno_error("ioctl BTRFS_IOC_SNAP_DESTROY", shown);
  return {};
}

// Caps what the subvolume of `fd` may hold exclusively. qgroupid 0 means
// "the subvolume the fd is in". ENOTCONN is the kernel's word for "quotas
// are not enabled on this filesystem": say so, and how to change that.
inline Status limit_exclusive_bytes(int fd, std::uint64_t bytes, const std::string& shown) {
  btrfs_ioctl_qgroup_limit_args args{};
  args.qgroupid = 0;
  args.lim.flags = BTRFS_QGROUP_LIMIT_MAX_EXCL;
  args.lim.max_excl = bytes;
  if (::ioctl(fd, BTRFS_IOC_QGROUP_LIMIT, &args) == 0) return {};
  const int code = errno;
  if (code == ENOTCONN)
    return Error{"ioctl BTRFS_IOC_QGROUP_LIMIT", shown, code,
                 "quotas are not enabled on this btrfs filesystem, so a snapshot cannot be capped "
                 "(enable them with `btrfs quota enable <mount point>`)"};
  return errno_error("ioctl BTRFS_IOC_QGROUP_LIMIT", shown, code);
}

inline std::string read_origin(int fd) {
  std::string value(4096, '\0');
  ssize_t n = ::fgetxattr(fd, origin_xattr, value.data(), value.size());
  if (n <= 0) return std::string(unknown_origin);  // ENODATA: never recorded; ERANGE: not ours
  value.resize(static_cast<std::size_t>(n));
  return value;
}

}  // namespace btrfs

class BtrfsVolumes {
 public:
  static constexpr std::string_view kind = "btrfs";  // recorded in the journal: reap must run the same
  // Throws Failure for a path that is not absolute and normalised, or a cap
  // of 0; the directory must exist on btrfs when snapshots are taken.
  // `exclusive_bytes`: what one snapshot may write (a qgroup limit, which
  // needs quotas enabled on the filesystem); none by default, so that a
  // filesystem without quotas works as it always did.
  explicit BtrfsVolumes(std::string snapshot_dir, std::optional<std::uint64_t> exclusive_bytes = std::nullopt)
      : dir_(std::move(snapshot_dir)), exclusive_bytes_(exclusive_bytes) {
    validate_absolute_path("btrfs snapshot dir", dir_).or_throw();
    if (exclusive_bytes_ && *exclusive_bytes_ == 0)
      throw Failure(logic_error("btrfs snapshot cap", dir_, "must be positive"));
  }

  const std::string& snapshot_dir() const { return dir_; }
  std::optional<std::uint64_t> exclusive_bytes() const { return exclusive_bytes_; }

  Result<MountSpec> snapshot(const std::string& origin, const std::string& name) {
    if (Status valid = validate_volume_name(name); !valid) return valid.error();
    if (Status valid = validate_absolute_path("origin", origin); !valid) return valid.error();
    auto origin_fd = open_fd(origin, O_RDONLY | O_DIRECTORY);
    if (!origin_fd) return errno_error("open origin", origin, origin_fd.code());
    if (Status subvolume = btrfs::check_subvolume(origin_fd->get(), origin); !subvolume) return subvolume.error();
    auto dir_fd = open_directory(dir_, false);
    if (!dir_fd) return dir_fd.error();
    const std::string shown = join_path(dir_, name);

    btrfs_ioctl_vol_args_v2 args{};
    args.fd = origin_fd->get();
    std::memcpy(args.name, name.data(), name.size());  // validated: at most 128 bytes
    if (::ioctl(dir_fd->get(), BTRFS_IOC_SNAP_CREATE_V2, &args) != 0)
      return errno_error("ioctl BTRFS_IOC_SNAP_CREATE_V2", shown);

    Result<MountSpec> spec = [&]() -> Result<MountSpec> {
      auto snapshot_fd = open_at(dir_fd->get(), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      if (!snapshot_fd) return errno_error("openat", shown, snapshot_fd.code());
      // The cap before anything else: a snapshot that cannot be capped is
      // destroyed below rather than handed out to write without bound.
      if (exclusive_bytes_)
        if (Status capped = btrfs::limit_exclusive_bytes(snapshot_fd->get(), *exclusive_bytes_, shown); !capped)
          return capped.error();
      if (::fsetxattr(snapshot_fd->get(), btrfs::origin_xattr, origin.data(), origin.size(), 0) != 0)
        return errno_error(fmt::format("fsetxattr {}", btrfs::origin_xattr), shown);
      return mount_spec(name);
    }();
    if (!spec) (void)btrfs::destroy_subvolume(dir_fd->get(), name, shown);
    return spec;
  }

  // Refuses (EBUSY) while mountinfo shows a mount of the subvolume or of a
  // directory in it: btrfs itself would delete a subvolume mounted elsewhere.
  Status remove(const std::string& name) {
    if (Status valid = validate_volume_name(name); !valid) return valid;
    const std::string shown = join_path(dir_, name);
    auto dir_fd = open_directory(dir_, false);
    if (!dir_fd) return errno_error("remove volume", shown, dir_fd.code());
    auto snapshot_fd = open_snapshot(dir_fd->get(), name);
    if (!snapshot_fd) return snapshot_fd.error();
    auto place = place_in_filesystem(shown);
    if (!place) return place.error();
    auto mounts = read_mountinfo();
    if (!mounts) return mounts.error();
    for (const auto& entry : *mounts) {
      if (entry.major != place->mount.major || entry.minor != place->mount.minor) continue;
      if (entry.root == place->root || entry.root.rfind(place->root + "/", 0) == 0)
        return Error{"remove volume", shown, EBUSY, fmt::format("mounted at {}", entry.mount_point)};
    }
    snapshot_fd->reset();
    return btrfs::destroy_subvolume(dir_fd->get(), name, shown);
  }

  Result<std::vector<VolumeInfo>> list(const std::string& prefix) {
    std::vector<VolumeInfo> listed;
    auto dir_fd = open_directory(dir_, false);
    if (!dir_fd) {
      if (dir_fd.code() == ENOENT) return listed;
      return dir_fd.error();
    }
    auto names = list_names_at(dir_fd->get(), dir_);
    if (!names) return names.error();
    for (const std::string& name : *names) {
      if (name.rfind(prefix, 0) != 0 || !validate_volume_name(name)) continue;
      auto snapshot_fd = open_snapshot(dir_fd->get(), name);
      if (!snapshot_fd) {
        if (snapshot_fd.code() == ENOENT || snapshot_fd.code() == ENOTDIR || snapshot_fd.code() == EINVAL) continue;
        return snapshot_fd.error();
      }
      listed.push_back({name, btrfs::read_origin(snapshot_fd->get())});
    }
    return listed;
  }

  Result<MountSpec> mount_spec(const std::string& name) {
    if (Status valid = validate_volume_name(name); !valid) return valid.error();
    const std::string shown = join_path(dir_, name);
    auto dir_fd = open_directory(dir_, false);
    if (!dir_fd) return errno_error("open volume", shown, dir_fd.code());
    auto snapshot_fd = open_snapshot(dir_fd->get(), name);
    if (!snapshot_fd) return snapshot_fd.error();
    auto id = btrfs::subvolume_id(snapshot_fd->get(), shown);
    if (!id) return id.error();
    auto place = place_in_filesystem(shown);
    if (!place) return place.error();
    if (place->mount.fs_type != "btrfs")
      return logic_error("btrfs mount spec", shown, fmt::format("is on a '{}' mount", place->mount.fs_type));
    return MountSpec{place->mount.source, "btrfs", fmt::format("subvolid={}", *id), place->root};
  }

 private:
  // A subvolume directly in the snapshot dir; ENOENT when absent, EINVAL for
  // a plain directory, ENOTDIR for anything else (a symlink is not followed).
  Result<UniqueFd> open_snapshot(int dir_fd, const std::string& name) const {
    const std::string shown = join_path(dir_, name);
    auto fd = open_at(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!fd) {
      const int code = fd.code() == ELOOP ? ENOTDIR : fd.code();
      return Error{"open volume", shown, code, code == ENOTDIR ? "not a directory (a symlink is never followed)" : ""};
    }
    if (Status subvolume = btrfs::check_subvolume(fd->get(), shown); !subvolume) return subvolume.error();
    return fd;
  }

  std::string dir_;
  std::optional<std::uint64_t> exclusive_bytes_;
};

static_assert(VolumeManager<BtrfsVolumes>);

}  // namespace snapcell::linux_sys
