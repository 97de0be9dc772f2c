// The `snapcell` executable itself on real LVM (issue 16): `snapcell run
// --backend lvm` on the classic and the thin origin, default supervisor, a
// command that writes into its snapshot and leaves a setsid daemon behind.
// The CLI must exit 0 and report nothing left, and the guest must agree:
// no snapcell-* LV, no mount or mount point under the CLI's state dir, no
// cgroup under its parent, no process in a chroot; the origin unchanged and
// the sentinels alive. The guest boots with cgroup v2 alone, so this is also
// the CLI finding a pure v2 layout by itself.

#include <signal.h>
#include <sys/wait.h>

#include "guest_world.hpp"

namespace snapcell::vm {
namespace {

constexpr const char* kCli = "/snapcell/snapcell";
constexpr const char* kCliState = "/run/snapcell-cli";
constexpr const char* kCliCgroups = "/sys/fs/cgroup/snapcell-cli";

void cli_run(CaseContext& context, const char* origin) {
  const std::string device = device_of_origin(kVolumeGroup, origin);
  const std::string before = fingerprint(device);
  std::vector<Sentinel> sentinels{Sentinel("/"), Sentinel(kRunDir)};
  const auto ran = sh(fmt::format(
      "{} run --backend lvm --base {}/{} --state-dir {} --cgroup-parent {} --timeout 60 --summary -- "
      "/bin/sh -c 'echo built > /artifact && cat /artifact && exec /bin/setsid_escape'",
      kCli, kVolumeGroup, origin, kCliState, kCliCgroups));
  context.note(fmt::format("snapcell run exited {}: {}{}", ran.exit_code, lx::one_line(ran.out), lx::one_line(ran.err)));
  VM_CHECK_MSG(context, ran.exit_code == 0, "snapcell run --backend lvm exits 0");
  VM_CHECK_MSG(context, ran.out.find("nothing left") != std::string::npos, "the CLI reports nothing left");

  // The guest's own look, not the CLI's word for it.
  auto volumes = volumes_for(lx::LvmSnapshotMode::classic);
  auto listed = volumes.report("");
  if (VM_CHECK_MSG(context, listed.is_ok(), listed ? "" : listed.error().message()))
    for (const auto& record : *listed)
      VM_CHECK_MSG(context, record.lv_name.rfind("snapcell-", 0) != 0, fmt::format("I3: LV {} is left", record.lv_name));
  for (const auto& point : mount_points())
    VM_CHECK_MSG(context, point.rfind(std::string(kCliState) + "/mnt/", 0) != 0, fmt::format("I3: {} is still mounted", point));
  for (const auto& entry : entries_of(std::string(kCliState) + "/mnt"))
    VM_CHECK_MSG(context, false, fmt::format("I3: mount point {}/mnt/{} is left", kCliState, entry));
  for (const auto& entry : entries_of(kCliCgroups))
    if (entry.rfind("snapcell-", 0) == 0) VM_CHECK_MSG(context, false, fmt::format("I3: cgroup {} is left", entry));
  for (const auto& process : processes_outside_root())
    VM_CHECK_MSG(context, false, fmt::format("I3: process {} still runs in a chroot", process));
  VM_CHECK_MSG(context, fingerprint(device) == before, "I5: the origin is unchanged");
  for (const auto& sentinel : sentinels) {
    VM_CHECK_MSG(context, sentinel.alive(), fmt::format("I1: sentinel {} was killed", sentinel.pid));
    ::kill(sentinel.pid, SIGKILL);
    ::waitpid(sentinel.pid, nullptr, 0);
  }
}

const Register classic(600, "cli-run-lvm-classic-default", [](CaseContext& c) { cli_run(c, kClassicOrigin); });
const Register thin(610, "cli-run-lvm-thin-default", [](CaseContext& c) { cli_run(c, kThinOrigin); });

}  // namespace
}  // namespace snapcell::vm
