#pragma once
// Every build runs as a uid of its own, unused on the host and by any other
// live build: RLIMIT_NPROC then bounds this build alone, and no build can
// signal or ptrace another's processes. A uid is leased by an exclusive
// flock on <state dir>/uids/<uid>, held for the build's life; a controller
// that dies drops its lease with its fds (its leftovers are reap's, which
// kills by unit, not by uid).

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "cli/state.hpp"
#include "snapcell/error.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/linux/sys.hpp"

namespace snapcell::cli {

// High in the 32-bit range: far above distributions' system and user
// ranges, systemd's dynamic users and the usual subuid ranges.
inline constexpr std::uint32_t build_uid_first = 3'100'000'000u;
inline constexpr std::uint32_t build_uid_count = 65'536;

struct UidLease {
  std::uint32_t uid = 0;
  linux_sys::UniqueFd lock;
};

inline Result<UidLease> lease_build_uid(const StateDirs& dirs, std::uint64_t nonce) {
  const std::string dir = join_path(dirs.root, "uids");
  if (Status made = make_dir_if_missing(dir); !made) return made.error();
  for (std::uint32_t attempt = 0; attempt < 64; ++attempt) {
    const std::uint32_t uid = build_uid_first + static_cast<std::uint32_t>((nonce + attempt) % build_uid_count);
    const std::string path = join_path(dir, std::to_string(uid));
    auto lock = linux_sys::open_fd(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
    if (!lock) return lock.error();
    if (::flock(lock->get(), LOCK_EX | LOCK_NB) == 0) return UidLease{uid, std::move(*lock)};
    if (errno != EWOULDBLOCK) return errno_error("flock", path);
  }
  return logic_error("lease build uid", dir, "64 candidate uids were all in use");
}

}  // namespace snapcell::cli
