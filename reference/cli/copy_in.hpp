#pragma once
// Files handed to a build go into its mounted snapshot from the host side,
// as root: every step is relative to a directory fd of the mount point and
// refuses symbolic links, so that a base whose /build or /in is a link
// (say, to /etc) cannot steer a host-side write out of the snapshot.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

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

inline constexpr std::uint64_t no_byte_cap = ~std::uint64_t{0};

// At most `max_bytes` of `from` into `to`, by read and write: a file that
// holds more than it did when it was measured (one still being written, or
// a sparse one grown) is refused at the cap instead of copied on and on.
inline Status copy_data_at_most(int from, int to, std::uint64_t max_bytes, const std::string& shown) {
  char buffer[65536];
  std::uint64_t copied = 0;
  while (true) {
    const std::uint64_t left = max_bytes - copied;
    // One byte past the cap, to tell "exactly the cap" from "more".
    const std::size_t want = left >= sizeof buffer ? sizeof buffer : static_cast<std::size_t>(left) + 1;
    const ssize_t n = linux_sys::retry_eintr([&] { return ::read(from, buffer, want); });
    if (n < 0) return errno_error("read", shown);
    if (n == 0) return {};
    copied += static_cast<std::uint64_t>(n);
    if (copied > max_bytes)
      return logic_error("copy", shown, fmt::format("holds more than the {} bytes it may", max_bytes));
    if (Status written = linux_sys::write_all(to, std::string_view(buffer, static_cast<std::size_t>(n)), shown);
        !written)
      return written;
  }
}

// Copies the regular file open on `from_fd` to a new file `name` in `dir_fd`
// (at most `max_bytes` of it; uncapped, through copy_file_range).
inline Status copy_fd_into(int from_fd, int dir_fd, const std::string& name, const std::string& shown,
                           std::int64_t uid = -1, std::int64_t gid = -1, std::uint64_t max_bytes = no_byte_cap) {
  if (Status valid = linux_sys::validate_entry_name("file name", name); !valid) return valid;
  struct stat st {};
  if (::fstat(from_fd, &st) != 0) return errno_error("fstat", shown);
  if (!S_ISREG(st.st_mode)) return logic_error("copy", shown, "is not a regular file");
  auto to = linux_sys::open_at(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
  if (!to) return Error{"create", shown, to.code(), ""};
  Status copied = max_bytes == no_byte_cap ? linux_sys::detail::copy_file_data(from_fd, to->get(), shown)
                                           : copy_data_at_most(from_fd, to->get(), max_bytes, shown);
  if (!copied) return copied;
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
