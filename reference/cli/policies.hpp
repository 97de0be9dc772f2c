#pragma once
// The one place where the names a user gives (--backend, --supervisor)
// become policy types: every combination is a Session of its own type.

#include <unistd.h>

#include <string>
#include <string_view>

#include <fmt/format.h>

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

// A build of the CLI may hold one backend and one supervisor alone
// (SNAPCELL_CLI_ONLY_BACKEND, SNAPCELL_CLI_ONLY_SUPERVISOR: string
// literals). Each verify mutant (harness/verify/verify.cmake) is the whole
// CLI compiled against a mutated core to run one combination, and CI builds
// thirteen of them: the other fifteen Session types took more than a third
// of each one's compile time (80 s against 51 s here). Any other choice is
// refused when it is made; reap passes over the compiled one alone.
#ifdef SNAPCELL_CLI_ONLY_BACKEND
inline constexpr std::string_view only_backend = SNAPCELL_CLI_ONLY_BACKEND;
#else
inline constexpr std::string_view only_backend;
#endif
#ifdef SNAPCELL_CLI_ONLY_SUPERVISOR
inline constexpr std::string_view only_supervisor = SNAPCELL_CLI_ONLY_SUPERVISOR;
#else
inline constexpr std::string_view only_supervisor;
#endif

constexpr bool compiled_in(std::string_view only, std::string_view name) { return only.empty() || only == name; }

[[noreturn]] inline void not_compiled_in(std::string_view option, const std::string& name, std::string_view only) {
  throw Failure(logic_error(std::string(option), name,
                            only.empty() ? std::string("is not one snapcell knows")
                                         : fmt::format("this build of snapcell has '{}' alone", only)));
}

// Calls body(volumes, mounter, supervisor, journal) with the chosen policies.
template <class Body>
int with_policies(const RunOptions& options, const StateDirs& dirs, Body&& body) {
  linux_sys::SyscallMounter mounter;
  linux_sys::DirectoryJournal journal(dirs.journal);
  auto with_supervisor = [&](auto& volumes) -> int {
    auto made = supervisor_config(options.cgroup_parent);
    if (!made) throw Failure(made.error());
    const linux_sys::SupervisorConfig& config = *made;
    if constexpr (compiled_in(only_supervisor, "session"))
      if (options.supervisor == "session") {
        linux_sys::SessionSupervisor supervisor(config);
        return body(volumes, mounter, supervisor, journal);
      }
    if constexpr (compiled_in(only_supervisor, "cgroup"))
      if (options.supervisor == "cgroup") {
        linux_sys::CgroupSupervisor supervisor(config);
        return body(volumes, mounter, supervisor, journal);
      }
    if constexpr (compiled_in(only_supervisor, "pidns"))
      if (options.supervisor == "pidns") {
        linux_sys::PidNamespaceSupervisor supervisor(config);
        return body(volumes, mounter, supervisor, journal);
      }
    if constexpr (compiled_in(only_supervisor, "default"))
      if (options.supervisor == "default") {
        linux_sys::DefaultSupervisor supervisor(config);
        return body(volumes, mounter, supervisor, journal);
      }
    not_compiled_in("--supervisor", options.supervisor, only_supervisor);
  };
  if constexpr (compiled_in(only_backend, "btrfs"))
    if (options.backend == "btrfs") {
      linux_sys::BtrfsVolumes volumes(options.snapshot_dir.empty() ? parent_of(options.base) : options.snapshot_dir,
                                      disk_cap_bytes(options.limits));
      return with_supervisor(volumes);
    }
  if constexpr (compiled_in(only_backend, "lvm"))
    if (options.backend == "lvm") {
      // run fills options.lvm from the origin (check_base); reap knows only the VG.
      if (!options.lvm) throw Failure(logic_error("--backend lvm", options.base, "no volume group chosen"));
      linux_sys::LvmVolumes volumes(*options.lvm);
      return with_supervisor(volumes);
    }
  if constexpr (compiled_in(only_backend, "copy"))
    if (options.backend == "copy") {
      linux_sys::CopyVolumes volumes(dirs.volumes, disk_write_bytes(options), options.user_namespace);
      return with_supervisor(volumes);
    }
  if constexpr (compiled_in(only_backend, "overlay"))
    if (options.backend == "overlay") {
      linux_sys::OverlayVolumes volumes(dirs.volumes, disk_write_bytes(options), options.user_namespace);
      return with_supervisor(volumes);
    }
  not_compiled_in("--backend", options.backend, only_backend);
}

}  // namespace snapcell::cli
