// The real-LVM suite, run as the guest's init's child (vm-tests/guest-init):
// makes the guest's world (volume group, origins, run dir, journal dir,
// cgroup parent, sentinels), then runs every case and checks the world
// after each.

#include <sys/mount.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>

#include "guest_world.hpp"

using namespace snapcell::vm;

namespace {

void make_world() {
  sh_or_throw(fmt::format("mkdir -p {0} {1} && mount -t tmpfs -o mode=0700,size=16m snapcell-run {0}", kRunDir, kJournalDir));
  // Pure cgroup v2: the limits go to pids.max and memory.max of each leaf, so
  // the parent must hand both controllers down.
  sh_or_throw(fmt::format("echo '+pids +memory' > {1}/cgroup.subtree_control && mkdir -p {0} && "
                          "echo '+pids +memory' > {0}/cgroup.subtree_control",
                          cgroup_parent(), cgroup_v2()));
  sh_or_throw(lvm(fmt::format("pvcreate -y {}", kMainDisk)));
  sh_or_throw(lvm(fmt::format("vgcreate {} {}", kVolumeGroup, kMainDisk)));
  sh_or_throw(lvm(fmt::format("lvcreate -y -L 64m -n {} {}", kClassicOrigin, kVolumeGroup)));
  make_base_filesystem(device_of_origin(kVolumeGroup, kClassicOrigin), "classic-base");
  sh_or_throw(lvm(fmt::format("lvcreate -y --type thin-pool -L 1g -n {} {}", kThinPool, kVolumeGroup)));
  sh_or_throw(lvm(fmt::format("lvcreate -y -V 128m -T {}/{} -n {}", kVolumeGroup, kThinPool, kThinOrigin)));
  make_base_filesystem(device_of_origin(kVolumeGroup, kThinOrigin), "thin-base");
}

}  // namespace

// Arguments: the names of the cases to run (vm-tests/run SNAPCELL_VM_CASES); none: all.
int main(int argc, char** argv) {
  const std::vector<std::string> only(argv + 1, argv + argc);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const auto started = std::chrono::steady_clock::now();
  try {
    make_world();
  } catch (const std::exception& error) {
    fmt::print("SNAPCELL-VM-SETUP-FAILED {}\n", error.what());
    return 1;
  }
  fmt::print("SNAPCELL-VM: world ready in {} ms: {}\n",
             std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count(),
             lx::one_line(sh(lvm("lvs -o lv_name,lv_attr,lv_size,origin,pool_lv")).out));
  std::vector<Sentinel> sentinels;
  sentinels.emplace_back("/");
  sentinels.emplace_back(kRunDir);
  WorldBaseline baseline;
  baseline.mounts = mount_points();
  for (const char* origin : {kClassicOrigin, kThinOrigin}) {
    const std::string device = device_of_origin(kVolumeGroup, origin);
    baseline.origin_fingerprints[device] = fingerprint(device);
  }
  print_lvs_json("origins");
  // A thin snapshot made without -K is inactive (lvm prints -1 for its device numbers).
  sh(lvm(fmt::format("lvcreate -s -n inactive-thin-snapshot {}/{}", kVolumeGroup, kThinOrigin)));
  print_lvs_json("inactive-thin-snapshot");
  sh(lvm(fmt::format("lvremove -f {}/inactive-thin-snapshot", kVolumeGroup)));
  const int status = run_all([&](CaseContext& context) { check_world(context, baseline, sentinels); },
                             std::chrono::seconds(240), only);
  for (const auto& sentinel : sentinels) ::kill(sentinel.pid, SIGKILL);
  return status;
}
