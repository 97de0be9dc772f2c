#pragma once
// Checked system calls for the Linux policies: each failure becomes an
// Error naming the literal call, its target and errno, as nsjail reports them.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "snapcell/error.hpp"
#include "snapcell/linux/fd.hpp"

namespace snapcell::linux_sys {

// Retries a call interrupted by a signal; returns its result.
template <class Call>
auto retry_eintr(Call&& call) {
  decltype(call()) result;
  do result = call();
  while (result == -1 && errno == EINTR);
  return result;
}

inline Result<UniqueFd> open_fd(const std::string& path, int flags, mode_t mode = 0) {
  int fd = retry_eintr([&] { return ::open(path.c_str(), flags | O_CLOEXEC, mode); });
  if (fd < 0) return errno_error("open", path);
  return UniqueFd(fd);
}

inline Result<UniqueFd> open_at(int dir_fd, const std::string& name, int flags, mode_t mode = 0) {
  int fd = retry_eintr([&] { return ::openat(dir_fd, name.c_str(), flags | O_CLOEXEC, mode); });
  if (fd < 0) return errno_error("openat", name);
  return UniqueFd(fd);
}

// Reads a whole (small, kernel-made) file: /proc and cgroup files report a
// size of 0 or 4096, so read until EOF rather than trusting st_size.
inline Result<std::string> read_fd(int fd, const std::string& what) {
  std::string text;
  char buffer[8192];
  while (true) {
    ssize_t n = retry_eintr([&] { return ::read(fd, buffer, sizeof buffer); });
    if (n < 0) return errno_error("read", what);
    if (n == 0) return text;
    text.append(buffer, static_cast<std::size_t>(n));
  }
}

inline Result<std::string> read_file(const std::string& path) {
  auto fd = open_fd(path, O_RDONLY);
  if (!fd) return fd.error();
  return read_fd(fd->get(), path);
}

// One write(2) of the whole text: what cgroup control files require.
inline Status write_file(const std::string& path, const std::string& text, int flags = O_WRONLY) {
  auto fd = open_fd(path, flags, 0600);
  if (!fd) return fd.error();
  ssize_t n = retry_eintr([&] { return ::write(fd->get(), text.data(), text.size()); });
  if (n < 0) return errno_error("write", path);
  if (static_cast<std::size_t>(n) != text.size()) return logic_error("write", path, "short write");
  return {};
}

inline Result<struct stat> stat_path(const std::string& path, bool follow = true) {
  struct stat st {};
  int rc = follow ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st);
  if (rc != 0) return errno_error(follow ? "stat" : "lstat", path);
  return st;
}

inline Status check(int rc, std::string operation, std::string target) {
  if (rc == -1) return errno_error(std::move(operation), std::move(target));
  return {};
}

}  // namespace snapcell::linux_sys
