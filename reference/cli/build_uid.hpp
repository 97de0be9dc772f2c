#pragma once
// Every build runs as a uid of its own, unused on the host and by any other
// live build: RLIMIT_NPROC then bounds this build alone, and no build can
// signal or ptrace another's processes. A uid is leased by an exclusive
// flock on <state dir>/uids/<uid>, held for the build's life; a controller
// that dies drops its lease with its fds (its leftovers are reap's, which
// kills by unit, not by uid). So the lock alone does not prove the uid free:
// a build that outlived its controller (SIGKILL, before `reap`) still runs
// as it. A uid is leased only when, with its lock held, no process on the
// host has it as any of its ids; nothing can start one after that check,
// since only the lease holder's builds run as it.

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdint>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "cli/state.hpp"
#include "snapcell/error.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/linux/sys.hpp"
#include "snapcell/linux/tree.hpp"

namespace snapcell::cli {

// High in the 32-bit range: far above distributions' system and user
// ranges, systemd's dynamic users and the usual subuid ranges.
inline constexpr std::uint32_t build_uid_first = 3'100'000'000u;
inline constexpr std::uint32_t build_uid_count = 65'536;

struct UidLease {
  std::uint32_t uid = 0;
  linux_sys::UniqueFd lock;
};

// Whether any process has `uid` as its real, effective, saved or
// filesystem uid (/proc/PID/status): the directory's owner alone would miss
// a process that changed only some of its ids, or is not dumpable.
inline Result<bool> uid_in_use(std::uint32_t uid) {
  auto dir = linux_sys::open_fd("/proc", O_RDONLY | O_DIRECTORY);
  if (!dir) return dir.error();
  auto names = linux_sys::list_names_at(dir->get(), "/proc");
  if (!names) return names.error();
  const std::string wanted = std::to_string(uid);
  for (const auto& name : *names) {
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto status = linux_sys::read_file("/proc/" + name + "/status");
    if (!status) continue;  // gone meanwhile
    const auto at = status->find("\nUid:");
    if (at == std::string::npos) continue;
    const auto end = status->find('\n', at + 1);
    std::istringstream ids(status->substr(at + 5, end == std::string::npos ? std::string::npos : end - at - 5));
    for (std::string id; ids >> id;)
      if (id == wanted) return true;
  }
  return false;
}

inline Result<UidLease> lease_build_uid(const StateDirs& dirs, std::uint64_t nonce) {
  const std::string dir = join_path(dirs.root, "uids");
  if (Status made = make_dir_if_missing(dir); !made) return made.error();
  for (std::uint32_t attempt = 0; attempt < 64; ++attempt) {
    const std::uint32_t uid = build_uid_first + static_cast<std::uint32_t>((nonce + attempt) % build_uid_count);
    const std::string path = join_path(dir, std::to_string(uid));
    auto lock = linux_sys::open_fd(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
    if (!lock) return lock.error();
    if (::flock(lock->get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) return errno_error("flock", path);
      continue;
    }
    auto in_use = uid_in_use(uid);
    if (!in_use) return in_use.error();
    if (!*in_use) return UidLease{uid, std::move(*lock)};
    // An orphaned build still runs as it: not this one (the lock goes with the fd).

  }
  return logic_error("lease build uid", dir, "64 candidate uids were all leased or used by a live process");
}

}  // namespace snapcell::cli
