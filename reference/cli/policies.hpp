#pragma once
// The one place where the names a user gives (--backend, --supervisor)
// become policy types: every combination is a Session of its own type.

#include <unistd.h>

#include <string>

#include "cli/cgroups.hpp"
#include "cli/run_options.hpp"
#include "cli/state.hpp"
#include "snapcell/linux/btrfs_volumes.hpp"
#include "snapcell/linux/copy_volumes.hpp"
#include "snapcell/linux/directory_journal.hpp"
#include "snapcell/linux/interrupt.hpp"
#include "snapcell/linux/lvm_volumes.hpp"
#include "snapcell/linux/overlay_volumes.hpp"
#include "snapcell/linux/supervisors.hpp"
#include "snapcell/linux/syscall_mounter.hpp"

namespace snapcell::cli {

// Builds' cgroups go under one dedicated parent per hierarchy, made here if
// missing; on a hybrid host the v1 pids and memory hierarchies get a parent
// of the same name, so their limits can be enforced too. Where the
// hierarchies are comes from this host's mountinfo (cli/cgroups.hpp).
inline Result<linux_sys::SupervisorConfig> supervisor_config(const std::string& cgroup_parent) {
  if (!host_cgroups()) return host_cgroups().error();
  const linux_sys::CgroupLayout& layout = *host_cgroups();
  linux_sys::SupervisorConfig config = linux_sys::supervisor_config_for(layout);
  config.cgroup_parent = cgroup_parent;
  config.interrupt_fd = linux_sys::interrupts().fd();  // a build's wait ends at once on SIGINT/TERM/HUP/QUIT
  if (Status made = make_dir_if_missing(cgroup_parent, 0755); !made) return made.error();
  // Pure v2 (the usual systemd host): the limits live in v2, if our parent passes pids and memory on.
  if (Status delegated = linux_sys::delegate_controllers(cgroup_parent, {"pids", "memory"}); !delegated)
    return delegated.error();
  const std::string leaf = cgroup_parent.substr(cgroup_parent.rfind('/') + 1);
  auto v1_parent = [&](const std::string& mount, std::string& parent) {
    if (mount.empty()) return;  // no such v1 hierarchy here (pure v2)
    if (make_dir_if_missing(join_path(mount, leaf), 0755)) parent = join_path(mount, leaf);
  };
  v1_parent(config.pids_v1_mount, config.pids_v1_parent);
  v1_parent(config.memory_v1_mount, config.memory_v1_parent);
  return config;
}

// Calls body(volumes, mounter, supervisor, journal) with the chosen policies.
template <class Body>
int with_policies(const RunOptions& options, const StateDirs& dirs, Body&& body) {
  linux_sys::SyscallMounter mounter;
  linux_sys::DirectoryJournal journal(dirs.journal);
  auto with_supervisor = [&](auto& volumes) {
    auto made = supervisor_config(options.cgroup_parent);
    if (!made) throw Failure(made.error());
    const linux_sys::SupervisorConfig& config = *made;
    if (options.supervisor == "session") {
      linux_sys::SessionSupervisor supervisor(config);
      return body(volumes, mounter, supervisor, journal);
    }
    if (options.supervisor == "cgroup") {
      linux_sys::CgroupSupervisor supervisor(config);
      return body(volumes, mounter, supervisor, journal);
    }
    if (options.supervisor == "pidns") {
      linux_sys::PidNamespaceSupervisor supervisor(config);
      return body(volumes, mounter, supervisor, journal);
    }
    linux_sys::DefaultSupervisor supervisor(config);
    return body(volumes, mounter, supervisor, journal);
  };
  if (options.backend == "btrfs") {
    linux_sys::BtrfsVolumes volumes(options.snapshot_dir.empty() ? parent_of(options.base) : options.snapshot_dir,
                                    disk_cap_bytes(options.limits));
    return with_supervisor(volumes);
  }
  if (options.backend == "lvm") {
    // run fills options.lvm from the origin (check_base); reap knows only the VG.
    if (!options.lvm) throw Failure(logic_error("--backend lvm", options.base, "no volume group chosen"));
    linux_sys::LvmVolumes volumes(*options.lvm);
    return with_supervisor(volumes);
  }
  if (options.backend == "copy") {
    linux_sys::CopyVolumes volumes(dirs.volumes, disk_write_bytes(options));
    return with_supervisor(volumes);
  }
  linux_sys::OverlayVolumes volumes(dirs.volumes, disk_write_bytes(options));
  return with_supervisor(volumes);
}

}  // namespace snapcell::cli
