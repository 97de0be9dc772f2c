#pragma once
// A snapshot seen as owned by root of a user namespace, without a chown of
// anything (issue 13, item 1: what the sandbox's own user namespace stands
// on, LinuxSupervisor::spawn and OverlayVolumes).
//
// A build that is root of its own user namespace runs as host ids of a
// range leased to its session (`first` .. `first + count - 1`, shown inside
// as 0 .. count - 1). The base's files are owned by the host's root, which
// that namespace does not map: seen from inside they belong to nobody, and
// root there may not write them. An idmapped mount (mount_setattr(2),
// MOUNT_ATTR_IDMAP) shifts ids at the mount instead of on disk: through it a
// file of disk uid N is uid `first + N`, so root inside owns what the host's
// root owns on disk, and what root inside creates is stored as disk uid 0.
// Nothing on disk changes owner, and outside the mount the base stays the
// host root's.
//
// Overlay is the one backend that cannot simply be idmapped: the kernel
// refuses MOUNT_ATTR_IDMAP on an overlay mount (EINVAL, seen on 6.18). Its
// layers can be (5.19+), but the overlay's own work (the work directory,
// every copy-up) is done with its mounter's credentials, and the host's
// root maps to nothing through an idmapped upper layer (EOVERFLOW, then a
// read-only fallback). Only its lower layer is idmapped, then, and the
// upper one stores the shifted ids as they are (OverlayVolumes).
//
// The helper that makes a namespace is a fork of the caller that runs only
// async-signal-safe calls (the caller may have threads) and dies with the
// thread that forked it (PR_SET_PDEATHSIG).

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/linux/sys.hpp"
#include "snapcell/names.hpp"
#include "snapcell/policies.hpp"

namespace snapcell::linux_sys {

// Never the host's root (a namespace mapping it would hand root's files to
// the build), never past the last id a process may hold ((uid_t)-1 means
// "unchanged" to the set*id calls).
inline Status validate_id_range(IdRange range) {
  auto reject = [&](std::string_view why) {
    return Status{logic_error("idmap", fmt::format("{}+{}", range.first, range.count), std::string(why))};
  };
  if (range.count == 0) return reject("maps no id");
  if (range.first == 0) return reject("would map the host's root");
  if (std::uint64_t{range.first} + range.count > 0xffffffffull) return reject("runs past the last valid id");
  return {};
}

namespace idmap_detail {

// The steps a helper reports on (as the sandbox's child does, ChildStep in
// sandbox.hpp): `done`, or the one that failed, with its errno.
enum class HelperStep : std::int32_t {
  done = 0,
  death_signal,
  unshare_user,
};

inline const char* operation_of(HelperStep step) {
  switch (step) {
    case HelperStep::done: return "";
    case HelperStep::death_signal: return "prctl(PR_SET_PDEATHSIG)";
    case HelperStep::unshare_user: return "unshare(CLONE_NEWUSER)";
  }
  return "helper";
}

struct HelperFailure {
  HelperStep step = HelperStep::done;
  std::int32_t error = 0;
};

// One HelperFailure record and room for one passed descriptor: what the
// sandbox's controller sends its child in a user namespace (the idmapped
// root, sandbox.hpp). On the stack, allocating nothing (the receiving side
// runs in a clone).
struct FdMessage {
  HelperFailure record{};
  iovec payload{&record, sizeof record};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr header{};

  FdMessage() noexcept {
    header.msg_iov = &payload;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
  }
  FdMessage(const FdMessage&) = delete;
  FdMessage& operator=(const FdMessage&) = delete;

  void attach(int fd) noexcept {
    cmsghdr* rights = CMSG_FIRSTHDR(&header);
    rights->cmsg_level = SOL_SOCKET;
    rights->cmsg_type = SCM_RIGHTS;
    rights->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(rights), &fd, sizeof fd);
  }
  // The passed descriptor, or -1 when none came.
  int attached() const noexcept {
    const cmsghdr* rights = CMSG_FIRSTHDR(&header);
    if (rights == nullptr || rights->cmsg_level != SOL_SOCKET || rights->cmsg_type != SCM_RIGHTS) return -1;
    int fd = -1;
    std::memcpy(&fd, CMSG_DATA(rights), sizeof fd);
    return fd;
  }
};

inline void exit_reporting(int fd, HelperStep step) noexcept {
  const HelperFailure failure{step, errno};
  (void)!::write(fd, &failure, sizeof failure);
  ::_exit(1);
}

// Waits for a helper this process forked, so that it never lingers.
inline void reap(pid_t pid) noexcept {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace idmap_detail

// Maps 0 .. count - 1 of `pid`'s new user namespace onto `range`, uids and
// gids alike. Written by a process of the parent namespace with CAP_SETUID
// and CAP_SETGID there, so setgroups(2) stays allowed inside.
inline Status write_id_maps(pid_t pid, IdRange range) {
  const std::string map = fmt::format("0 {} {}\n", range.first, range.count);
  for (const char* file : {"uid_map", "gid_map"})
    if (Status written = write_file(fmt::format("/proc/{}/{}", pid, file), map); !written) return written;
  return {};
}

// A user namespace with `range` as its map, held by the returned fd: what an
// idmapped mount shifts ids through. It runs nothing; the helper that made
// it has exited by the time this returns.
inline Result<UniqueFd> make_id_namespace(IdRange range) {
  if (Status valid = validate_id_range(range); !valid) return valid.error();
  int ready[2], release[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return errno_error("pipe2", "user namespace helper");
  if (::pipe2(release, O_CLOEXEC) != 0) {
    Error error = errno_error("pipe2", "user namespace helper");
    ::close(ready[0]);
    ::close(ready[1]);
    return error;
  }
  UniqueFd ready_read(ready[0]), ready_write(ready[1]), release_read(release[0]), release_write(release[1]);
  const pid_t controller = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return errno_error("fork", "user namespace helper");
  if (pid == 0) {
    // Its copies of the controller's ends go first: the release pipe's
    // write end held here would keep its own read below from ever ending.
    ::close(ready[0]);
    ::close(release[1]);
    // One report: `done` once the namespace exists, else the failed step.
    using idmap_detail::HelperStep;
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || ::getppid() != controller)
      idmap_detail::exit_reporting(ready[1], HelperStep::death_signal);
    if (::unshare(CLONE_NEWUSER) != 0) idmap_detail::exit_reporting(ready[1], HelperStep::unshare_user);
    const idmap_detail::HelperFailure none{};
    (void)!::write(ready[1], &none, sizeof none);
    char byte = 0;
    while (::read(release[0], &byte, 1) < 0 && errno == EINTR) {
    }
    ::_exit(0);
  }
  ready_write.reset();
  release_read.reset();
  // The helper is not reaped before its namespace is open, so its PID (and
  // the /proc/PID files written below) cannot be anyone else's meanwhile.
  auto finish = [&](Result<UniqueFd> result) {
    release_write.reset();
    idmap_detail::reap(pid);
    return result;
  };
  idmap_detail::HelperFailure report{};
  const ssize_t got = retry_eintr([&] { return ::read(ready_read.get(), &report, sizeof report); });
  if (got != static_cast<ssize_t>(sizeof report))
    return finish(Error{"make user namespace", std::to_string(pid), EIO, "the helper exited without a report"});
  if (report.step != idmap_detail::HelperStep::done)
    return finish(errno_error(idmap_detail::operation_of(report.step), "user namespace helper", report.error));
  if (Status mapped = write_id_maps(pid, range); !mapped) return finish(mapped.error());
  return finish(open_fd(fmt::format("/proc/{}/ns/user", pid), O_RDONLY));
}

// A detached clone of the mount tree at `source` (that mount alone, not the
// ones below it), shifted through `userns_fd`'s map, nosuid, nodev and
// read-only when asked: attached with move_mount, here or by a process of
// another mount namespace the fd is passed to (the sandbox's child).
inline Result<UniqueFd> idmapped_tree(const std::string& source, int userns_fd, bool read_only) {
  UniqueFd tree(::open_tree(AT_FDCWD, source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW));
  if (!tree) return errno_error("open_tree(OPEN_TREE_CLONE)", source);
  mount_attr attributes{};
  attributes.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (read_only ? MOUNT_ATTR_RDONLY : 0);
  attributes.userns_fd = static_cast<std::uint64_t>(userns_fd);
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attributes, sizeof attributes) != 0) {
    Error error = errno_error("mount_setattr(MOUNT_ATTR_IDMAP)", source);
    if (error.code == EINVAL)
      error.detail = "this kernel cannot idmap a mount of this filesystem (tmpfs needs Linux 6.3, overlay never)";
    return error;
  }
  return tree;
}

// Attaches idmapped_tree(source, ...) at `target`, an existing directory.
inline Status bind_idmapped(const std::string& source, const std::string& target, int userns_fd, bool read_only) {
  auto tree = idmapped_tree(source, userns_fd, read_only);
  if (!tree) return tree.status();
  if (::move_mount(tree->get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    return errno_error("move_mount", target);
  return {};
}

}  // namespace snapcell::linux_sys
