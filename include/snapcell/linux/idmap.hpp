#pragma once
// A snapshot seen as owned by root of a user namespace, without a chown of
// anything (issue 13, item 1: the pieces the sandbox's own user namespace
// will stand on; nothing calls them yet but their tests).
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
// layers can be (5.19+), but then the overlay's own work (the work
// directory, every copy-up) is done with its mounter's credentials, and the
// host's root maps to nothing through an idmapped upper layer (EOVERFLOW,
// and overlay falls back to read-only). So the overlay is mounted by root of
// a namespace with the same map: a helper joins it, makes the overlay with
// the new mount API in a mount namespace of its own, and hands the detached
// mount back over a socket; the caller attaches it where it belongs.
//
// Every helper is a fork of the caller that runs only async-signal-safe
// calls (the caller may have threads) and dies with the thread that forked
// it (PR_SET_PDEATHSIG).

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
  enter_dir,
  join_namespace,
  drop_groups,
  set_gid,
  set_uid,
  unshare_mount,
  open_overlay,
  set_source,
  set_lower,
  set_upper,
  set_work,
  set_userxattr,
  create_overlay,
  make_mount,
  send_mount,
};

inline const char* operation_of(HelperStep step) {
  switch (step) {
    case HelperStep::done: return "";
    case HelperStep::death_signal: return "prctl(PR_SET_PDEATHSIG)";
    case HelperStep::unshare_user: return "unshare(CLONE_NEWUSER)";
    case HelperStep::enter_dir: return "fchdir";
    case HelperStep::join_namespace: return "setns(CLONE_NEWUSER)";
    case HelperStep::drop_groups: return "setgroups";
    case HelperStep::set_gid: return "setresgid";
    case HelperStep::set_uid: return "setresuid";
    case HelperStep::unshare_mount: return "unshare(CLONE_NEWNS)";
    case HelperStep::open_overlay: return "fsopen(overlay)";
    case HelperStep::set_source: return "fsconfig(source)";
    case HelperStep::set_lower: return "fsconfig(lowerdir)";
    case HelperStep::set_upper: return "fsconfig(upperdir)";
    case HelperStep::set_work: return "fsconfig(workdir)";
    case HelperStep::set_userxattr: return "fsconfig(userxattr)";
    case HelperStep::create_overlay: return "fsconfig(FSCONFIG_CMD_CREATE)";
    case HelperStep::make_mount: return "fsmount";
    case HelperStep::send_mount: return "sendmsg";
  }
  return "helper";
}

struct HelperFailure {
  HelperStep step = HelperStep::done;
  std::int32_t error = 0;
};

// One HelperFailure record and room for one passed descriptor: what the
// overlay helper sends and its caller receives. On the stack, allocating
// nothing (the sending side runs in a fork).
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
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attributes, sizeof attributes) != 0)
    return errno_error("mount_setattr(MOUNT_ATTR_IDMAP)", source);
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

// An overlay's layers: three directories below `dir`, named relative to it
// (lower is the idmapped base, upper and work on the idmapped layers'
// filesystem), and the source name mountinfo will show for it.
struct OverlayLayers {
  std::string source;
  std::string dir;
  std::string lower, upper, work;
};

// Mounts the overlay `layers` describe at `target`, made by root of
// `userns_fd` (the layers idmapped through a namespace of the same map, see
// the top of this file), nosuid and nodev.
//
// The helper starts in `dir` (which others may search) and names the layers
// relative to it. Root of the namespace may not search the directories
// above (a state dir of mode 0700 belongs to the host's root, whom it does
// not map), and the layers must be looked up in the helper's own mount
// namespace (overlay refuses to clone an upper layer of another one):
// unshare(CLONE_NEWNS) carries the working directory over into the copy, a
// file descriptor would not.
inline Status mount_overlay_as_namespace_root(int userns_fd, const OverlayLayers& layers, const std::string& target) {
  for (const std::string* name : {&layers.lower, &layers.upper, &layers.work})
    if (name->empty() || name->front() == '/' || name->find_first_of(":,\\\n") != std::string::npos ||
        *name == ".." || name->starts_with("../") || name->find("/../") != std::string::npos ||
        name->ends_with("/.."))
      return logic_error("mount overlay", *name,
                         "a layer must be named below the layers' directory, without '..', ':', ',', '\\' or newline");
  auto dir = open_fd(layers.dir, O_PATH | O_DIRECTORY | O_NOFOLLOW);
  if (!dir) return dir.error();
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
    return errno_error("socketpair", "overlay helper");
  UniqueFd ours(pair[0]), theirs(pair[1]);
  using idmap_detail::HelperStep;
  const pid_t controller = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return errno_error("fork", "overlay helper");
  if (pid == 0) {
    const int out = pair[1];
    auto fail = [&](HelperStep step) { idmap_detail::exit_reporting(out, step); };
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || ::getppid() != controller) fail(HelperStep::death_signal);
    if (::fchdir(dir->get()) != 0) fail(HelperStep::enter_dir);
    // setns into a user namespace needs a single-threaded caller: a fork is.
    if (::setns(userns_fd, CLONE_NEWUSER) != 0) fail(HelperStep::join_namespace);
    // Raw calls: glibc's wrappers would signal the caller's threads, which
    // this fork does not have.
    if (::syscall(SYS_setgroups, 0, nullptr) != 0) fail(HelperStep::drop_groups);
    if (::syscall(SYS_setresgid, 0, 0, 0) != 0) fail(HelperStep::set_gid);
    if (::syscall(SYS_setresuid, 0, 0, 0) != 0) fail(HelperStep::set_uid);
    if (::unshare(CLONE_NEWNS) != 0) fail(HelperStep::unshare_mount);
    const int fs = ::fsopen("overlay", FSOPEN_CLOEXEC);
    if (fs < 0) fail(HelperStep::open_overlay);
    if (::fsconfig(fs, FSCONFIG_SET_STRING, "source", layers.source.c_str(), 0) != 0) fail(HelperStep::set_source);
    if (::fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir", layers.lower.c_str(), 0) != 0) fail(HelperStep::set_lower);
    if (::fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", layers.upper.c_str(), 0) != 0) fail(HelperStep::set_upper);
    if (::fsconfig(fs, FSCONFIG_SET_STRING, "workdir", layers.work.c_str(), 0) != 0) fail(HelperStep::set_work);
    // Overlay's own marks (opaque directories, redirects) in user.* xattrs:
    // root of a user namespace may not write trusted.* ones.
    if (::fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", nullptr, 0) != 0) fail(HelperStep::set_userxattr);
    if (::fsconfig(fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) fail(HelperStep::create_overlay);
    const int mount = ::fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
    if (mount < 0) fail(HelperStep::make_mount);
    idmap_detail::FdMessage done;  // HelperStep::done, with the mount attached
    done.attach(mount);
    if (::sendmsg(out, &done.header, MSG_NOSIGNAL) < 0) fail(HelperStep::send_mount);
    ::_exit(0);
  }
  theirs.reset();
  idmap_detail::FdMessage received;
  const ssize_t got = retry_eintr([&] { return ::recvmsg(ours.get(), &received.header, MSG_CMSG_CLOEXEC); });
  idmap_detail::reap(pid);
  UniqueFd mount(received.attached());
  const idmap_detail::HelperFailure& report = received.record;
  if (got != static_cast<ssize_t>(sizeof report))
    return Error{"mount overlay", target, EIO, "the helper exited without a report"};
  if (report.step != HelperStep::done) {
    // The directory and the three layer steps fail on their path (ENOENT, a
    // lower layer that is not a directory): name it.
    auto target_of = [&](HelperStep step) -> std::string {
      switch (step) {
        case HelperStep::enter_dir: return layers.dir;
        case HelperStep::set_lower: return join_path(layers.dir, layers.lower);
        case HelperStep::set_upper: return join_path(layers.dir, layers.upper);
        case HelperStep::set_work: return join_path(layers.dir, layers.work);
        default: return layers.source;
      }
    };
    return errno_error(idmap_detail::operation_of(report.step), target_of(report.step), report.error);
  }
  if (!mount) return Error{"mount overlay", target, EIO, "the helper reported success without a mount"};
  if (::move_mount(mount.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    return errno_error("move_mount", target);
  return {};
}

}  // namespace snapcell::linux_sys
