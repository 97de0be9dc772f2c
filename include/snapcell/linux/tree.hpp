#pragma once
// Whole directory trees, walked through directory fds: removal that never
// follows a symbolic link and never crosses into another mount, and the full
// copy that is the baseline every copy-on-write backend is measured against.
// Also where a directory sits inside its filesystem, as mountinfo prints it:
// what a bind mount or a btrfs subvolume mount is identified by.
//
// Every walk holds one directory fd per level and resolves one component at
// a time relative to it (openat with O_NOFOLLOW), so a build that swaps a
// directory for a symlink while the walk runs cannot steer it outside.

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/linux/mountinfo.hpp"
#include "snapcell/linux/sys.hpp"
#include "snapcell/names.hpp"
#include "snapcell/policies.hpp"

namespace snapcell::linux_sys {

// ---- names -------------------------------------------------------------------

// One path component that we create and later find again by listing: not
// empty, no '/', no NUL, not hidden (hidden names are the listings' own).
inline Status validate_entry_name(std::string_view what, std::string_view name) {
  auto reject = [&](std::string_view why) {
    return Status{logic_error(fmt::format("validate {}", what), std::string(name), std::string(why))};
  };
  if (name.empty()) return reject("is empty");
  if (name.size() > 255) return reject("is longer than NAME_MAX");
  if (name.front() == '.') return reject("starts with '.'");
  for (unsigned char c : name) {
    if (c == '/') return reject("contains '/'");
    if (c < 0x20 || c == 0x7f) return reject("contains a control character");
  }
  return {};
}

// A volume's name becomes a directory, a subvolume and part of a mount
// source: the characters of session names only, so that nothing needs
// escaping anywhere (mount options, mountinfo, LVM names).
inline Status validate_volume_name(std::string_view name) {
  auto reject = [&](std::string_view why) {
    return Status{logic_error("validate volume name", std::string(name), std::string(why))};
  };
  if (name.empty()) return reject("is empty");
  if (name.size() > 128) return reject("is longer than 128 characters");
  if (!is_lower_alnum(name.front())) return reject("must start with a lower-case letter or digit");
  for (char c : name)
    if (!is_lower_alnum(c) && c != '-') return reject("may hold only a-z, 0-9 and '-'");
  return {};
}

// ---- small helpers on directory fds -------------------------------------------

inline Result<struct statx> statx_at(int dir_fd, const std::string& name, int flags, const std::string& shown) {
  struct statx sx {};
  constexpr unsigned mask = STATX_BASIC_STATS | STATX_MNT_ID;
  if (::statx(dir_fd, name.c_str(), flags | AT_NO_AUTOMOUNT, mask, &sx) != 0) return errno_error("statx", shown);
  return sx;
}

inline Result<struct statx> statx_fd(int fd, const std::string& shown) {
  return statx_at(fd, "", AT_EMPTY_PATH, shown);
}

inline dev_t device_of(const struct statx& sx) { return makedev(sx.stx_dev_major, sx.stx_dev_minor); }

// The names in a directory, without "." and "..", sorted. Reads through a
// fresh fd so the caller's fd keeps its offset.
inline Result<std::vector<std::string>> list_names_at(int dir_fd, const std::string& shown) {
  auto own = open_at(dir_fd, ".", O_RDONLY | O_DIRECTORY);
  if (!own) return errno_error("openat", shown, own.code());
  DIR* dir = ::fdopendir(own->get());
  if (!dir) return errno_error("fdopendir", shown);
  own->release();
  std::vector<std::string> names;
  while (true) {
    errno = 0;
    const dirent* entry = ::readdir(dir);
    if (!entry) break;
    std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  const int read_errno = errno;
  ::closedir(dir);
  if (read_errno != 0) return errno_error("readdir", shown, read_errno);
  std::sort(names.begin(), names.end());
  return names;
}

inline Status write_all(int fd, std::string_view text, const std::string& shown, off_t offset = -1) {
  while (!text.empty()) {
    ssize_t n = retry_eintr([&] {
      return offset < 0 ? ::write(fd, text.data(), text.size()) : ::pwrite(fd, text.data(), text.size(), offset);
    });
    if (n < 0) return errno_error(offset < 0 ? "write" : "pwrite", shown);
    if (n == 0) return logic_error("write", shown, "wrote nothing");
    text.remove_prefix(static_cast<std::size_t>(n));
    if (offset >= 0) offset += n;
  }
  return {};
}

// A small file created exclusively in a directory: EEXIST if it is there.
inline Status write_new_file_at(int dir_fd, const std::string& name, std::string_view text, const std::string& shown,
                                mode_t mode = 0600) {
  auto fd = open_at(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  if (!fd) return errno_error("openat O_EXCL", shown, fd.code());
  return write_all(fd->get(), text, shown);
}

inline Result<std::string> read_file_at(int dir_fd, const std::string& name, const std::string& shown) {
  auto fd = open_at(dir_fd, name, O_RDONLY | O_NOFOLLOW);
  if (!fd) return errno_error("openat", shown, fd.code());
  return read_fd(fd->get(), shown);
}

// Opens a directory that must exist; with `create`, makes it (0700) first.
// The last component is never a symlink; earlier ones are the caller's.
inline Result<UniqueFd> open_directory(const std::string& path, bool create) {
  if (create && ::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return errno_error("mkdir", path);
  auto fd = open_fd(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!fd) return errno_error("open directory", path, fd.code());
  return fd;
}

// ---- removal -----------------------------------------------------------------

namespace detail {

// What every directory of one tree shares: its device and its mount. A
// directory with another is a mount point (or a btrfs subvolume): a place
// the removal must not descend into.
struct TreePlace {
  dev_t device = 0;
  std::uint64_t mount_id = 0;
};

inline bool same_place(const struct statx& sx, const TreePlace& top) {
  if (device_of(sx) != top.device) return false;
  if ((sx.stx_mask & STATX_MNT_ID) && sx.stx_mnt_id != top.mount_id) return false;
  if ((sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) return false;
  return true;
}

inline Error not_same_place(const std::string& shown) {
  return Error{"remove tree", shown, EBUSY, "is a mount point or on another filesystem; not descending"};
}

// A directory only root may enter (mode 000, like overlayfs's work/work):
// made enterable through an O_PATH fd, so the chmod cannot follow a link.
inline Result<UniqueFd> open_dir_for_removal(int parent_fd, const std::string& name, const std::string& shown) {
  auto fd = open_at(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (fd || fd.code() != EACCES) return fd;
  auto path_fd = open_at(parent_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW);
  if (!path_fd) return errno_error("openat O_PATH", shown, path_fd.code());
  const std::string magic = fmt::format("/proc/self/fd/{}", path_fd->get());
  if (::chmod(magic.c_str(), 0700) != 0) return errno_error("chmod", shown);
  return open_at(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
}

inline Status remove_entry(int parent_fd, const std::string& name, const std::string& shown, const TreePlace& top);

inline Status remove_children(int dir_fd, const std::string& shown, const TreePlace& top) {
  auto names = list_names_at(dir_fd, shown);
  if (!names) return names.status();
  for (const std::string& name : *names)
    if (Status removed = remove_entry(dir_fd, name, shown + "/" + name, top); !removed) return removed;
  return {};
}

inline Status remove_entry(int parent_fd, const std::string& name, const std::string& shown, const TreePlace& top) {
  // O_DIRECTORY fails with ENOTDIR before anything is opened (no FIFO
  // blocks, no device is touched); O_NOFOLLOW fails on a symlink with ELOOP.
  auto dir = open_dir_for_removal(parent_fd, name, shown);
  if (!dir) {
    if (dir.code() == ENOENT) return {};  // gone meanwhile: what we wanted
    if (dir.code() != ENOTDIR && dir.code() != ELOOP) return errno_error("openat", shown, dir.code());
    // A file bind-mounted over this name makes unlinkat fail with EBUSY.
    if (::unlinkat(parent_fd, name.c_str(), 0) != 0 && errno != ENOENT) return errno_error("unlinkat", shown);
    return {};
  }
  // The identity of what was opened, not of what the name pointed to a
  // moment ago: an open of a mount point lands on the mounted root.
  auto sx = statx_fd(dir->get(), shown);
  if (!sx) return sx.status();
  if (!same_place(*sx, top)) return not_same_place(shown);
  if (Status emptied = remove_children(dir->get(), shown, top); !emptied) return emptied;
  dir->reset();
  if (::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    return errno_error("unlinkat AT_REMOVEDIR", shown);
  return {};
}

}  // namespace detail

// Removes `name` in the directory `parent_fd` and, if it is a directory,
// everything below it. Symlinks are removed, never followed. The top must be
// on the parent's mount, and every directory below on the top's device and
// mount: a mount point inside fails the removal with EBUSY, naming it, and
// nothing below it is touched. ENOENT if `name` does not exist.
inline Status remove_tree_at(int parent_fd, const std::string& name) {
  if (Status valid = validate_entry_name("tree name", name); !valid) return valid;
  auto parent = statx_fd(parent_fd, "<parent of " + name + ">");
  if (!parent) return parent.status();
  auto sx = statx_at(parent_fd, name, AT_SYMLINK_NOFOLLOW, name);
  if (!sx) return sx.status();
  if (!S_ISDIR(sx->stx_mode)) {
    if (::unlinkat(parent_fd, name.c_str(), 0) != 0) return errno_error("unlinkat", name);
    return {};
  }
  auto dir = detail::open_dir_for_removal(parent_fd, name, name);
  if (!dir) return dir.status();
  auto top = statx_fd(dir->get(), name);
  if (!top) return top.status();
  if (top->stx_mnt_id != parent->stx_mnt_id || !(top->stx_mask & STATX_MNT_ID) ||
      ((top->stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (top->stx_attributes & STATX_ATTR_MOUNT_ROOT)))
    return detail::not_same_place(name);
  const detail::TreePlace place{device_of(*top), top->stx_mnt_id};
  if (Status emptied = detail::remove_children(dir->get(), name, place); !emptied) return emptied;
  dir->reset();
  if (::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) != 0) return errno_error("unlinkat AT_REMOVEDIR", name);
  return {};
}

// ---- the full copy -------------------------------------------------------------

namespace detail {

struct CopyContext {
  TreePlace source_top;
  dev_t destination_device = 0;  // the copy's top: met inside the source, the copy would never end
  ino_t destination_inode = 0;
  IdRange shift{};  // count > 0: owners written as shift.first + theirs (copy_tree_onto)
};

// The owner a copy gives an entry: the source's, or shifted into the range
// (an id the range does not hold is refused: inside it would be nobody's).
inline Status copied_owner(const CopyContext& context, const struct statx& sx, const std::string& shown, uid_t& uid,
                           gid_t& gid) {
  uid = sx.stx_uid;
  gid = sx.stx_gid;
  if (context.shift.count == 0) return {};
  if (uid >= context.shift.count || gid >= context.shift.count)
    return logic_error("copy tree", shown,
                       fmt::format("owned by {}:{}, beyond the {} ids of the user namespace it is copied for", uid, gid,
                                   context.shift.count));
  uid += context.shift.first;
  gid += context.shift.first;
  return {};
}

inline struct timespec to_timespec(const struct statx_timestamp& t) {
  struct timespec ts {};
  ts.tv_sec = t.tv_sec;
  ts.tv_nsec = t.tv_nsec;
  return ts;
}

// Owner before mode: chown clears the set-user-ID and set-group-ID bits.
inline Status copy_attributes_fd(int fd, const struct statx& sx, const std::string& shown, const CopyContext& context) {
  uid_t uid = 0;
  gid_t gid = 0;
  if (Status owner = copied_owner(context, sx, shown, uid, gid); !owner) return owner;
  if (::fchown(fd, uid, gid) != 0) return errno_error("fchown", shown);
  if (::fchmod(fd, sx.stx_mode & 07777) != 0) return errno_error("fchmod", shown);
  const struct timespec times[2] = {to_timespec(sx.stx_atime), to_timespec(sx.stx_mtime)};
  if (::futimens(fd, times) != 0) return errno_error("futimens", shown);
  return {};
}

inline Status copy_file_data(int from, int to, const std::string& shown) {
  bool use_copy_file_range = true;
  char buffer[65536];
  while (true) {
    ssize_t n = -1;
    if (use_copy_file_range) {
      n = retry_eintr([&] { return ::copy_file_range(from, nullptr, to, nullptr, 1 << 30, 0); });
      if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
        use_copy_file_range = false;
        continue;
      }
      if (n < 0) return errno_error("copy_file_range", shown);
      if (n == 0) return {};
      continue;
    }
    n = retry_eintr([&] { return ::read(from, buffer, sizeof buffer); });
    if (n < 0) return errno_error("read", shown);
    if (n == 0) return {};
    if (Status written = write_all(to, std::string_view(buffer, static_cast<std::size_t>(n)), shown); !written)
      return written;
  }
}

inline Status copy_children(int from_dir, int to_dir, const std::string& shown, const CopyContext& context);

inline Status copy_entry(int from_dir, int to_dir, const std::string& name, const std::string& shown,
                         const CopyContext& context) {
  auto sx = statx_at(from_dir, name, AT_SYMLINK_NOFOLLOW, shown);
  if (!sx) return sx.status();
  const mode_t type = sx->stx_mode & S_IFMT;
  const struct timespec times[2] = {to_timespec(sx->stx_atime), to_timespec(sx->stx_mtime)};

  if (type == S_IFDIR) {
    auto from = open_at(from_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!from) return errno_error("openat", shown, from.code());
    auto opened = statx_fd(from->get(), shown);
    if (!opened) return opened.status();
    if (!same_place(*opened, context.source_top))
      return Error{"copy tree", shown, EBUSY, "is a mount point or on another filesystem; not descending"};
    if (device_of(*opened) == context.destination_device && opened->stx_ino == context.destination_inode)
      return Error{"copy tree", shown, EINVAL, "is the copy's own destination"};
    if (::mkdirat(to_dir, name.c_str(), 0700) != 0) return errno_error("mkdirat", shown);
    auto to = open_at(to_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!to) return errno_error("openat", shown, to.code());
    if (Status copied = copy_children(from->get(), to->get(), shown, context); !copied) return copied;
    return copy_attributes_fd(to->get(), *opened, shown, context);  // after the content: a 0555 directory is filled first
  }
  if (type == S_IFREG) {
    auto from = open_at(from_dir, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY);
    if (!from) return errno_error("openat", shown, from.code());
    auto to = open_at(to_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (!to) return errno_error("openat O_EXCL", shown, to.code());
    if (Status copied = copy_file_data(from->get(), to->get(), shown); !copied) return copied;
    return copy_attributes_fd(to->get(), *sx, shown, context);
  }
  if (type == S_IFLNK) {
    std::string target(static_cast<std::size_t>(sx->stx_size) + 1, '\0');
    while (true) {
      ssize_t n = ::readlinkat(from_dir, name.c_str(), target.data(), target.size());
      if (n < 0) return errno_error("readlinkat", shown);
      if (static_cast<std::size_t>(n) < target.size()) {
        target.resize(static_cast<std::size_t>(n));
        break;
      }
      target.resize(target.size() * 2);  // grew since statx
    }
    if (::symlinkat(target.c_str(), to_dir, name.c_str()) != 0) return errno_error("symlinkat", shown);
  } else if (type == S_IFCHR || type == S_IFBLK || type == S_IFIFO || type == S_IFSOCK) {
    const dev_t rdev = makedev(sx->stx_rdev_major, sx->stx_rdev_minor);
    if (::mknodat(to_dir, name.c_str(), type | 0600, rdev) != 0) return errno_error("mknodat", shown);
  } else {
    return logic_error("copy tree", shown, fmt::format("unknown file type {:o}", type));
  }
  // A symlink or a node: by name, never followed (a symlink's mode means nothing).
  uid_t uid = 0;
  gid_t gid = 0;
  if (Status owner = copied_owner(context, *sx, shown, uid, gid); !owner) return owner;
  if (::fchownat(to_dir, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
    return errno_error("fchownat", shown);
  if (type != S_IFLNK && ::fchmodat(to_dir, name.c_str(), sx->stx_mode & 07777, 0) != 0)
    return errno_error("fchmodat", shown);
  if (::utimensat(to_dir, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) return errno_error("utimensat", shown);
  return {};
}

inline Status copy_children(int from_dir, int to_dir, const std::string& shown, const CopyContext& context) {
  auto names = list_names_at(from_dir, shown);
  if (!names) return names.status();
  for (const std::string& name : *names)
    if (Status copied = copy_entry(from_dir, to_dir, name, shown + "/" + name, context); !copied) return copied;
  return {};
}

}  // namespace detail

// Copies what is in the directory `source` (the path may go through
// symlinks; nothing below it is followed), and its owner, mode and times,
// onto the directory open as `destination_fd`, which should be empty (a
// name already there is EEXIST). Keeps types, modes, owners, timestamps
// (atime and mtime) and device numbers; hard links become separate files;
// extended attributes, ACLs and file capabilities are not copied. A mount
// point inside the source is an error (EBUSY), as in remove_tree_at. On
// failure the partial copy is left for the caller to remove. `shift`
// (count > 0): every owner is written shifted into that range, as a user
// namespace mapping it sees the source (an owner beyond it is refused).
inline Status copy_tree_onto(const std::string& source, int destination_fd, const std::string& shown,
                             IdRange shift = {}) {
  auto from = open_fd(source, O_RDONLY | O_DIRECTORY);
  if (!from) return errno_error("open directory", source, from.code());
  auto from_sx = statx_fd(from->get(), source);
  if (!from_sx) return from_sx.status();
  auto to_sx = statx_fd(destination_fd, shown);
  if (!to_sx) return to_sx.status();
  const detail::CopyContext context{{device_of(*from_sx), from_sx->stx_mnt_id}, device_of(*to_sx), to_sx->stx_ino, shift};
  if (Status copied = detail::copy_children(from->get(), destination_fd, source, context); !copied) return copied;
  return detail::copy_attributes_fd(destination_fd, *from_sx, shown, context);
}

// The same onto a new directory `name` in `destination_dir_fd`, which must
// not exist.
inline Status copy_tree_at(const std::string& source, int destination_dir_fd, const std::string& name) {
  if (Status valid = validate_entry_name("copy name", name); !valid) return valid;
  if (::mkdirat(destination_dir_fd, name.c_str(), 0700) != 0) return errno_error("mkdirat", name);
  auto to = open_at(destination_dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!to) return errno_error("openat", name, to.code());
  return copy_tree_onto(source, to->get(), name);
}

// The same, by paths: `destination` must not exist; its parent must.
inline Status copy_tree(const std::string& source, const std::string& destination) {
  if (Status valid = validate_absolute_path("copy source", source); !valid) return valid;
  if (Status valid = validate_absolute_path("copy destination", destination); !valid) return valid;
  auto parent = open_fd(parent_of(destination), O_RDONLY | O_DIRECTORY);
  if (!parent) return errno_error("open directory", parent_of(destination), parent.code());
  return copy_tree_at(source, parent->get(), destination.substr(destination.rfind('/') + 1));
}

// ---- where a directory sits in its filesystem -----------------------------------

inline Result<std::vector<linux_text::MountInfoEntry>> read_mountinfo() {
  auto text = read_file("/proc/self/mountinfo");
  if (!text) return text.error();
  return linux_text::parse_mountinfo(*text);
}

// The mount a directory is on, and the directory's path inside that
// mount's filesystem as mountinfo prints the root of a mount made of it (a
// bind mount of it, or a btrfs mount of it as a subvolume).
struct FilesystemPlace {
  linux_text::MountInfoEntry mount;
  std::string root;
};

// The path must be the one mountinfo shows: absolute, normalised, without
// symlinks; otherwise the place could not be computed and is refused.
inline Result<FilesystemPlace> place_in_filesystem(const std::string& path) {
  if (Status valid = validate_absolute_path("directory", path); !valid) return valid.error();
  auto sx = statx_at(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, path);
  if (!sx) return sx.error();
  if (!S_ISDIR(sx->stx_mode)) return errno_error("locate in filesystem", path, ENOTDIR);
  if (!(sx->stx_mask & STATX_MNT_ID)) return Error{"statx STATX_MNT_ID", path, ENOSYS, "kernel older than 5.8"};
  auto mounts = read_mountinfo();
  if (!mounts) return mounts.error();
  auto it = std::find_if(mounts->begin(), mounts->end(),
                         [&](const auto& entry) { return static_cast<std::uint64_t>(entry.mount_id) == sx->stx_mnt_id; });
  if (it == mounts->end())
    return logic_error("locate in filesystem", path, fmt::format("mount id {} is not in mountinfo", sx->stx_mnt_id));
  std::string relative;
  if (it->mount_point == "/") {
    relative = path;
  } else if (path == it->mount_point) {
    relative = "";
  } else if (path.size() > it->mount_point.size() && path.compare(0, it->mount_point.size(), it->mount_point) == 0 &&
             path[it->mount_point.size()] == '/') {
    relative = path.substr(it->mount_point.size());
  } else {
    return logic_error("locate in filesystem", path,
                       fmt::format("is not below its mount point '{}' as written: symlinks in the path?",
                                   it->mount_point));
  }
  std::string root = it->root == "/" ? (relative.empty() ? "/" : relative) : it->root + relative;
  return FilesystemPlace{*it, std::move(root)};
}

}  // namespace snapcell::linux_sys
