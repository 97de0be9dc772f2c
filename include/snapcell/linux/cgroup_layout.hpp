#pragma once
// Where this host's cgroup hierarchies are, read once from mountinfo rather
// than assumed: a pure cgroup v2 host (Debian 12, Ubuntu 22.04+, Fedora under
// systemd) mounts v2 at /sys/fs/cgroup; a hybrid one mounts it at
// /sys/fs/cgroup/unified and the v1 controllers (pids, memory, ...) beside it.
// The v2 hierarchy is what supervisors make leaves in; the v1 pids and memory
// hierarchies, where they exist, carry the limits a controller-less v2 cannot.

#include <string>
#include <string_view>
#include <vector>

#include "snapcell/error.hpp"
#include "snapcell/linux/mountinfo.hpp"
#include "snapcell/linux/tree.hpp"

namespace snapcell::linux_sys {

struct CgroupLayout {
  std::string v2_mount;         // empty: no cgroup2 mount in this namespace
  std::string pids_v1_mount;    // empty: no v1 pids hierarchy (pure v2)
  std::string memory_v1_mount;  // empty: no v1 memory hierarchy (pure v2)

  bool hybrid() const { return !pids_v1_mount.empty() || !memory_v1_mount.empty(); }
  // snapcell's dedicated parent in the v2 hierarchy, by default.
  std::string default_parent() const { return v2_mount.empty() ? "" : v2_mount + "/snapcell.slice"; }
};

namespace detail {
inline bool has_option(std::string_view options, std::string_view wanted) {
  std::size_t start = 0;
  while (start <= options.size()) {
    std::size_t end = options.find(',', start);
    if (end == std::string_view::npos) end = options.size();
    if (options.substr(start, end - start) == wanted) return true;
    start = end + 1;
  }
  return false;
}
}  // namespace detail

// The first mount of each kind under /sys/fs/cgroup wins (a container may
// show the same hierarchy twice; the canonical place is the one to use).
inline CgroupLayout cgroup_layout_of(const std::vector<linux_text::MountInfoEntry>& mounts) {
  CgroupLayout layout;
  auto under_sys_fs_cgroup = [](const std::string& point) { return point.rfind("/sys/fs/cgroup", 0) == 0; };
  for (const auto& entry : mounts) {
    if (!under_sys_fs_cgroup(entry.mount_point)) continue;
    if (entry.fs_type == "cgroup2" && layout.v2_mount.empty()) layout.v2_mount = entry.mount_point;
    if (entry.fs_type != "cgroup") continue;
    if (layout.pids_v1_mount.empty() && detail::has_option(entry.super_options, "pids"))
      layout.pids_v1_mount = entry.mount_point;
    if (layout.memory_v1_mount.empty() && detail::has_option(entry.super_options, "memory"))
      layout.memory_v1_mount = entry.mount_point;
  }
  return layout;
}

inline Result<CgroupLayout> detect_cgroup_layout() {
  auto mounts = read_mountinfo();
  if (!mounts) return mounts.error();
  CgroupLayout layout = cgroup_layout_of(*mounts);
  if (layout.v2_mount.empty())
    return Error{"find the cgroup v2 hierarchy", "/proc/self/mountinfo", ENOENT,
                 "no cgroup2 mount under /sys/fs/cgroup (mount -t cgroup2 none /sys/fs/cgroup/unified, or boot with "
                 "systemd.unified_cgroup_hierarchy=1)"};
  return layout;
}

// This host's layout, read once per process: everything that makes, joins
// or looks at cgroups (the CLI, verify, the benchmarks, the host tests, the
// VM guest) asks here rather than spelling out a path. The error says why
// there is none (no cgroup2 mount).
inline const Result<CgroupLayout>& host_cgroup_layout() {
  static const Result<CgroupLayout> layout = detect_cgroup_layout();
  return layout;
}

}  // namespace snapcell::linux_sys
