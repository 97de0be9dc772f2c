#pragma once
// Files handed to a build go into its mounted snapshot from the host side,
// as root: every step is relative to a directory fd of the mount point and
// refuses symbolic links, so that a base whose /build or /in is a link
// (say, to /etc) cannot steer a host-side write out of the snapshot.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "snapcell/error.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/linux/sys.hpp"
#include "snapcell/linux/tree.hpp"

namespace snapcell::cli {

// A directory `name` in `parent_fd` (made if missing), owned by uid:gid
// (-1: left as it is).
inline Result<linux_sys::UniqueFd> directory_in(int parent_fd, const std::string& name, const std::string& shown,
                                                std::int64_t uid = -1, std::int64_t gid = -1) {
  if (::mkdirat(parent_fd, name.c_str(), 0755) != 0 && errno != EEXIST) return errno_error("mkdirat", shown);
  auto dir = linux_sys::open_at(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!dir) return Error{"open directory", shown, dir.code(), dir.code() == ELOOP ? "is a symbolic link" : ""};
  if (uid >= 0 && ::fchown(dir->get(), static_cast<uid_t>(uid), static_cast<gid_t>(gid)) != 0)
    return errno_error("fchown", shown);
  return dir;
}

// Copies the regular file open on `from_fd` to a new file `name` in `dir_fd`.
inline Status copy_fd_into(int from_fd, int dir_fd, const std::string& name, const std::string& shown,
                           std::int64_t uid = -1, std::int64_t gid = -1) {
  if (Status valid = linux_sys::validate_entry_name("file name", name); !valid) return valid;
  struct stat st {};
  if (::fstat(from_fd, &st) != 0) return errno_error("fstat", shown);
  if (!S_ISREG(st.st_mode)) return logic_error("copy", shown, "is not a regular file");
  auto to = linux_sys::open_at(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
  if (!to) return Error{"create", shown, to.code(), ""};
  if (Status copied = linux_sys::detail::copy_file_data(from_fd, to->get(), shown); !copied) return copied;
  if (uid >= 0 && ::fchown(to->get(), static_cast<uid_t>(uid), static_cast<gid_t>(gid)) != 0)
    return errno_error("fchown", shown);
  return {};
}

inline Status copy_file_into(int dir_fd, const std::string& source, const std::string& name, const std::string& shown,
                             std::int64_t uid = -1, std::int64_t gid = -1) {
  auto from = linux_sys::open_fd(source, O_RDONLY | O_NOCTTY);
  if (!from) return from.error();
  return copy_fd_into(from->get(), dir_fd, name, shown, uid, gid);
}

// `snapcell run --copy-in`: each file into /in of the snapshot.
inline Status copy_in(const std::string& mount_point, const std::vector<std::string>& files) {
  if (files.empty()) return {};
  auto root = linux_sys::open_fd(mount_point, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!root) return root.error();
  auto in = directory_in(root->get(), "in", mount_point + "/in");
  if (!in) return in.status();
  for (const auto& file : files) {
    const std::string name = file.substr(file.rfind('/') + 1);
    if (Status copied = copy_file_into(in->get(), file, name, mount_point + "/in/" + name); !copied) return copied;
  }
  return {};
}

}  // namespace snapcell::cli
