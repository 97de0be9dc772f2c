#pragma once
// Who a build runs as. By default (--userns own) as an ordinary user, uid
// and gid 1000, of a user namespace of its own, mapped onto a range of 65536
// host ids leased for the build (id_lease.hpp, the host's one store): even
// root inside would be an unprivileged host uid, and no other build or
// session shares an id with it. The snapshot's root is idmapped or shifted
// onto that range (as for `snapcell run`), so the base's files look owned
// by root inside and read-only to the build. With --userns host, as before
// the namespace: a leased uid of the host's user namespace (build_uid.hpp).
// Either way RLIMIT_NPROC counts this build alone.

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "cli/build_uid.hpp"
#include "cli/id_lease.hpp"
#include "snapcell/error.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/policies.hpp"

namespace snapcell::cli {

// An ordinary user's id, as `adduser` hands out first, not root's.
inline constexpr std::uint32_t build_user_in_namespace = 1000;

struct BuildIdentity {
  IdRange user_namespace;  // count 0: the host's user namespace
  std::uint32_t uid = 0;   // the build's uid and gid as it sees them
  linux_sys::UniqueFd lock;  // the lease, held for the build's life

  // The host's ids the build may hold, whatever it does with setuid inside:
  // any process with one of them is the build's.
  IdRange host_ids() const { return user_namespace.count > 0 ? user_namespace : IdRange{uid, 1}; }
  std::uint32_t host_uid() const { return user_namespace.count > 0 ? user_namespace.first + uid : uid; }
};

inline Result<BuildIdentity> lease_build_identity(std::string_view userns, std::uint64_t nonce) {
  if (userns == "host") {
    auto lease = lease_build_uid(id_lease_dir(), nonce);
    if (!lease) return lease.error();
    return BuildIdentity{IdRange{}, lease->uid, std::move(lease->lock)};
  }
  auto lease = lease_ids(id_lease_dir(), user_namespace_pool, nonce);
  if (!lease) return lease.error();
  return BuildIdentity{lease->range, build_user_in_namespace, std::move(lease->lock)};
}

// The ids, as stored on disk under the mounted snapshot, of the namespace's
// root and of the build user: the snapshot's root directory, as the host
// sees it at the mount point, is owned either by 0 (it is idmapped for the
// sandbox later) or by the range's first id (its ids are shifted already).
// Anything else is not a base this build can map, and is refused rather
// than guessed at.
struct DiskOwners {
  std::uint32_t root = 0;
  std::uint32_t build = 0;
};

inline Result<DiskOwners> disk_owners(const BuildIdentity& identity, int root_fd, const std::string& shown) {
  if (identity.user_namespace.count == 0) return DiskOwners{0, identity.uid};
  struct stat st {};
  if (::fstat(root_fd, &st) != 0) return errno_error("fstat", shown);
  const std::uint32_t first = identity.user_namespace.first;
  if (st.st_uid != 0 && st.st_uid != first)
    return logic_error("stage", shown,
                       fmt::format("the snapshot's root is owned by uid {}, neither root nor the first id {} of the "
                                   "build's user namespace",
                                   st.st_uid, first));
  return DiskOwners{st.st_uid, st.st_uid + identity.uid};
}

}  // namespace snapcell::cli
