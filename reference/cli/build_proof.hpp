#pragma once
// The builder's own look at the machine after a teardown, from outside and
// without trusting the session's report: no mount naming the session, no
// cgroup leaf of its unit, no process or mount still holding its network
// namespace, and a sentinel process it started on the host's `/` before the
// build still alive (cleanup killed nothing it should not have).

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "snapcell/linux/interrupt.hpp"
#include "snapcell/linux/mountinfo.hpp"
#include "snapcell/linux/sys.hpp"
#include "snapcell/policies.hpp"

namespace snapcell::cli {

struct CleanupProof {
  int processes_left = 0;
  int mounts_left = 0;
  int cgroups_left = 0;
  int network_namespaces_left = 0;
  bool volume_removed = false;
  bool sentinel_alive = false;
  bool containment_proven = false;
  bool holds() const {
    return processes_left == 0 && mounts_left == 0 && cgroups_left == 0 && network_namespaces_left == 0 &&
           volume_removed && sentinel_alive;
  }
};

// A child of the builder that waits on `/`, as an operator's shell would;
// a cleanup that kills by mount or by process group must not reach it.
class Sentinel {
 public:
  Sentinel() {
    const pid_t controller = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      // It dies with the builder, holding none of its files (the uid lease,
      // the base's hold), and lives through a signal to the builder's group.
      if (!linux_sys::child_after_fork(controller, linux_sys::ChildMask::keep)) ::_exit(0);
      linux_sys::close_inherited_fds();
      (void)::chdir("/");
      for (;;) ::pause();
    }
    if (pid_ > 0) pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  }
  Sentinel(const Sentinel&) = delete;
  Sentinel& operator=(const Sentinel&) = delete;
  ~Sentinel() {
    if (pidfd_ >= 0) {
      (void)::syscall(SYS_pidfd_send_signal, pidfd_, SIGKILL, nullptr, 0u);
      ::close(pidfd_);
    }
    if (pid_ > 0) (void)::waitpid(pid_, nullptr, 0);
  }
  bool alive() const {
    if (pidfd_ < 0) return false;
    siginfo_t info{};
    // WNOHANG | WNOWAIT: a sentinel that died stays a zombie, the question is asked again safely.
    if (::waitid(P_PIDFD, static_cast<id_t>(pidfd_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return false;
    return info.si_pid == 0;
  }

 private:
  pid_t pid_ = -1;
  int pidfd_ = -1;
};

inline std::uint64_t network_namespace_of(int pid) {
  auto st = linux_sys::stat_path(fmt::format("/proc/{}/ns/net", pid));
  return st ? static_cast<std::uint64_t>(st->st_ino) : 0;
}

// Mounts whose source or target names the session.
inline int mounts_naming(const std::string& session) {
  auto text = linux_sys::read_file("/proc/self/mountinfo");
  if (!text) return -1;
  auto entries = linux_text::parse_mountinfo(*text);
  if (!entries) return -1;
  int count = 0;
  for (const auto& entry : *entries)
    if (entry.mount_point.find(session) != std::string::npos || entry.source.find(session) != std::string::npos ||
        entry.super_options.find(session) != std::string::npos)
      ++count;
  return count;
}

// Processes in the namespace, and nsfs mounts of it (a bind of
// /proc/PID/ns/net keeps a namespace alive with no process in it).
inline int holders_of_network_namespace(std::uint64_t inode) {
  if (inode == 0) return 0;
  int count = 0;
  if (DIR* proc = ::opendir("/proc")) {
    while (dirent* entry = ::readdir(proc)) {
      const int pid = std::atoi(entry->d_name);
      if (pid > 0 && network_namespace_of(pid) == inode) ++count;
    }
    ::closedir(proc);
  }
  if (auto text = linux_sys::read_file("/proc/self/mountinfo"); text)
    if (auto entries = linux_text::parse_mountinfo(*text); entries)
      for (const auto& entry : *entries)
        if (entry.fs_type == "nsfs" && entry.root == fmt::format("net:[{}]", inode)) ++count;
  return count;
}

// The build's host ids are its own (build_identity.hpp): any process owned
// by one of them is the build's.
inline int processes_with_uid_in(IdRange ids) {
  int count = 0;
  if (DIR* proc = ::opendir("/proc")) {
    while (dirent* entry = ::readdir(proc)) {
      const int pid = std::atoi(entry->d_name);
      if (pid <= 0) continue;
      auto st = linux_sys::stat_path(fmt::format("/proc/{}", pid));
      if (st && st->st_uid >= ids.first && st->st_uid - ids.first < ids.count) ++count;
    }
    ::closedir(proc);
  }
  return count;
}

inline int cgroups_present(const std::vector<std::string>& dirs) {
  int count = 0;
  for (const auto& dir : dirs)
    if (dir != "-" && !dir.empty() && ::access(dir.c_str(), F_OK) == 0) ++count;
  return count;
}

}  // namespace snapcell::cli
