#pragma once
// Every build runs as a uid of its own, unused on the host and by any other
// live build: RLIMIT_NPROC then bounds this build alone, and no build can
// signal or ptrace another's processes. Leased as a block of one id
// (id_lease.hpp: a flock held for the build's life, and no live process
// with the id).

#include <cstdint>

#include "cli/id_lease.hpp"
#include "cli/state.hpp"

namespace snapcell::cli {

inline constexpr std::uint32_t build_uid_first = build_uid_pool.first;
inline constexpr std::uint32_t build_uid_count = build_uid_pool.blocks;

struct UidLease {
  std::uint32_t uid = 0;
  linux_sys::UniqueFd lock;
};

inline Result<bool> uid_in_use(std::uint32_t uid) { return ids_in_use({uid, 1}); }

// Leased in `lease_dir` (id_lease_dir(): the host's one store, so that
// builds of two state dirs never share a uid); a build's uid lives no
// longer than its session.
inline Result<UidLease> lease_build_uid(const std::string& lease_dir, std::uint64_t nonce) {
  auto lease = lease_ids(lease_dir, build_uid_pool, nonce);
  if (!lease) return lease.error();
  return UidLease{lease->range.first, std::move(lease->lock)};
}

}  // namespace snapcell::cli
