#pragma once
// Host ids handed to one live session at a time: a build's own uid (a block
// of one, build_uid.hpp) or a user namespace's range (a block of 65536).
// A block is leased by an exclusive flock on <dir>/<first id>, held for the
// session's life; a controller that dies drops its lease with its fds (its
// leftovers are reap's, which kills by unit, not by id). So the lock alone
// does not prove the block free: a build that outlived its controller
// (SIGKILL, before `reap`) still runs as one of its ids. A block is leased
// only when, with its lock held, no process on the host has any id of it as
// any of its uids or gids; nothing can start one after that check, since
// only the lease holder's builds run as them.

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "cli/state.hpp"
#include "snapcell/error.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/linux/sys.hpp"
#include "snapcell/linux/tree.hpp"
#include "snapcell/policies.hpp"

namespace snapcell::cli {

// Blocks of `block` ids from `first` on, `blocks` of them.
struct IdPool {
  std::uint32_t first = 0;
  std::uint32_t block = 1;
  std::uint32_t blocks = 0;
};

// High in the 32-bit range: far above distributions' system and user
// ranges, systemd's dynamic users (61184-65519) and the usual subuid ranges
// (100000 up), and apart from each other.
inline constexpr IdPool build_uid_pool{3'100'000'000u, 1, 65'536};
inline constexpr IdPool user_namespace_pool{3'200'000'000u, 65'536, 16'384};  // up to 4'273'741'824
static_assert(std::uint64_t{user_namespace_pool.first} + std::uint64_t{user_namespace_pool.block} * user_namespace_pool.blocks <
              0xffffffffull);
static_assert(std::uint64_t{build_uid_pool.first} + build_uid_pool.blocks <= user_namespace_pool.first);

// Where ids are leased, user namespace ranges and build uids alike: one
// store for the host, whatever state dir a command uses (two state dirs
// must not hand out one id). The pools do not overlap, so their lock files
// (named by a block's first id) share the directory.
// SNAPCELL_ID_LEASE_DIR moves it, for tests that keep to their scratch.
inline std::string id_lease_dir() {
  const char* dir = std::getenv("SNAPCELL_ID_LEASE_DIR");
  return dir != nullptr && *dir != '\0' ? std::string(dir) : std::string("/run/snapcell-id-leases");
}

struct IdLease {
  IdRange range;
  linux_sys::UniqueFd lock;
};

// Whether any process has an id in `range` as its real, effective, saved or
// filesystem uid or gid (/proc/PID/status): the directory's owner alone
// would miss a process that changed only some of its ids, or is not dumpable.
inline Result<bool> ids_in_use(IdRange range) {
  auto dir = linux_sys::open_fd("/proc", O_RDONLY | O_DIRECTORY);
  if (!dir) return dir.error();
  auto names = linux_sys::list_names_at(dir->get(), "/proc");
  if (!names) return names.error();
  const auto in_range = [&](std::string_view text) {
    std::istringstream ids{std::string(text)};
    for (std::uint64_t id = 0; ids >> id;)
      if (id >= range.first && id - range.first < range.count) return true;
    return false;
  };
  for (const auto& name : *names) {
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto status = linux_sys::read_file("/proc/" + name + "/status");
    if (!status) continue;  // gone meanwhile
    for (std::string_view field : {"\nUid:", "\nGid:"}) {
      const auto at = status->find(field);
      if (at == std::string::npos) continue;
      const auto end = status->find('\n', at + 1);
      const auto from = at + field.size();
      if (in_range(std::string_view(*status).substr(from, end == std::string::npos ? std::string::npos : end - from)))
        return true;
    }
  }
  return false;
}

// The first free block from `nonce`'s on, trying 64.
inline Result<IdLease> lease_ids(const std::string& dir, IdPool pool, std::uint64_t nonce) {
  if (Status made = make_dir_if_missing(dir); !made) return made.error();
  for (std::uint32_t attempt = 0; attempt < 64; ++attempt) {
    const auto index = static_cast<std::uint32_t>((nonce + attempt) % pool.blocks);
    const IdRange range{pool.first + index * pool.block, pool.block};
    const std::string path = join_path(dir, std::to_string(range.first));
    auto lock = linux_sys::open_fd(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
    if (!lock) return lock.error();
    if (::flock(lock->get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) return errno_error("flock", path);
      continue;
    }
    auto in_use = ids_in_use(range);
    if (!in_use) return in_use.error();
    if (!*in_use) return IdLease{range, std::move(*lock)};
    // An orphaned build still runs as one of them: not this block (the lock goes with the fd).
  }
  return logic_error("lease ids", dir, "64 candidate blocks were all leased or used by a live process");
}

}  // namespace snapcell::cli
