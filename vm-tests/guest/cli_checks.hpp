#pragma once
// What every guest case of the `snapcell` CLI checks after it: the guest's
// own look, not the CLI's word for it.

#include <string>
#include <vector>

#include "guest_world.hpp"

namespace snapcell::vm {

// The CLI's snapshots (its naming convention) in the guest's VG, or the
// error lvs gave.
inline Result<std::vector<std::string>> cli_snapshots() {
  auto listed = volumes_for(lx::LvmSnapshotMode::classic).report("");
  if (!listed) return listed.error();
  std::vector<std::string> names;
  for (const auto& record : *listed)
    if (record.lv_name.rfind("snapcell-", 0) == 0) names.push_back(record.lv_name);
  return names;
}

// No snapcell-* LV, no mount or mount point under the CLI's state dir, no
// cgroup under its parent, no process in a chroot.
inline void check_nothing_of_the_cli_left(CaseContext& context) {
  auto snapshots = cli_snapshots();
  if (VM_CHECK_MSG(context, snapshots.is_ok(), snapshots ? "" : snapshots.error().message()))
    for (const auto& name : *snapshots) VM_CHECK_MSG(context, false, fmt::format("I3: LV {} is left", name));
  for (const auto& point : mount_points())
    VM_CHECK_MSG(context, point.rfind(std::string(kCliState) + "/mnt/", 0) != 0, fmt::format("I3: {} is still mounted", point));
  for (const auto& entry : entries_of(std::string(kCliState) + "/mnt"))
    VM_CHECK_MSG(context, false, fmt::format("I3: mount point {}/mnt/{} is left", kCliState, entry));
  for (const auto& entry : entries_of(cli_cgroups()))
    if (entry.rfind("snapcell-", 0) == 0) VM_CHECK_MSG(context, false, fmt::format("I3: cgroup {} is left", entry));
  for (const auto& process : processes_outside_root())
    VM_CHECK_MSG(context, false, fmt::format("I3: process {} still runs in a chroot", process));
}

}  // namespace snapcell::vm
