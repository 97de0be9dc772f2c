// The field's seed scenario on real LVM: the volume group has too little
// free space, lvcreate refuses the snapshot, nothing is mounted, and the
// bare mount-point directory sits where the mount should have been.
// Teardown must not act on that directory's filesystem: no unmount, no
// kill-by-mount, no signal. Unmounts and signals go through recorders
// (as in harness/host/seed_scenario_test.cpp), so that the mutant build
// (SNAPCELL_VM_MUTANT=no-root-guard) shows what it would have done rather
// than doing it; sentinel processes on the guest's / and on the run dir
// must survive either way.

#include <signal.h>
#include <sys/wait.h>

#include "guest_world.hpp"

namespace snapcell::vm {
namespace {

constexpr const char* kSeedGroup = "seedvg";
constexpr const char* kSeedPv = "/dev/mapper/snapcell-seedpv";

struct Record {
  std::vector<std::string> unmounts;
  std::vector<DeviceId> holder_scans;
  std::vector<Pid> matched;
  std::vector<Pid> signalled;
};

// The real mounter, except that umount2 never reaches the kernel: it is
// recorded and answered as the kernel answers for a busy mount whose device
// something holds.
class RecordingMounter {
 public:
  explicit RecordingMounter(Record& record) : record_(record) {}
  Status make_dir(const std::string& path) { return real_.make_dir(path); }
  Status remove_dir(const std::string& path) { return real_.remove_dir(path); }
  Status mount(const MountSpec& spec, const std::string& path) { return real_.mount(spec, path); }
  Result<PathFacts> facts(const std::string& path) { return real_.facts(path); }
  Result<std::vector<std::string>> list_dir(const std::string& path) { return real_.list_dir(path); }
  Status unmount(const std::string& path, UnmountMode) {
    record_.unmounts.push_back(path);
    auto facts = real_.facts(path);
    if (facts) {
      auto held = real_.holders(facts->path_device);
      if (held && !held->empty()) return errno_error("umount2 (recorded)", path, EBUSY);
    }
    return {};
  }
  Result<std::vector<Pid>> holders(DeviceId device) {
    record_.holder_scans.push_back(device);
    auto found = real_.holders(device);
    if (found) record_.matched.insert(record_.matched.end(), found->begin(), found->end());
    return found;
  }

 private:
  lx::SyscallMounter real_;
  Record& record_;
};

class RecordingSupervisor : public lx::DefaultSupervisor {
 public:
  RecordingSupervisor(lx::SupervisorConfig config, Record& record) : lx::DefaultSupervisor(std::move(config)), record_(record) {}
  Status signal_member(Unit&, Pid pid, int) {
    record_.signalled.push_back(pid);
    return {};
  }

 private:
  Record& record_;
};

struct ScopedSentinel : Sentinel {
  using Sentinel::Sentinel;
  ~ScopedSentinel() {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
};

void seed_scenario(CaseContext& context) {
  // A 40 MiB PV (a linear map over the spare disk), 1 MiB extents; the origin
  // takes 32 of the 39 usable, and a snapshot asks for 16.
  // From 1 MiB on: a PV label at the disk's own start would show the PV
  // twice (through /dev/vdb and the map), and lvm refuses duplicates.
  Cleanup undo(lvm(fmt::format("vgremove -f {}", kSeedGroup)) + "; " + lvm(fmt::format("pvremove -y {}", kSeedPv)) +
               "; dmsetup remove --noudevsync snapcell-seedpv");
  sh_or_throw(fmt::format("dmsetup create --noudevsync --verifyudev snapcell-seedpv --table '0 81920 linear {} 2048'",
                          kSpareDisk));
  sh_or_throw(lvm(fmt::format("pvcreate -y {}", kSeedPv)));
  sh_or_throw(lvm(fmt::format("vgcreate -s 1m {} {}", kSeedGroup, kSeedPv)));
  sh_or_throw(lvm(fmt::format("lvcreate -y -L 32m -n seedbase {}", kSeedGroup)));
  make_base_filesystem(device_of_origin(kSeedGroup, "seedbase"), "seed-base");

  {
    ScopedSentinel on_root("/");
    ScopedSentinel on_run_dir(kRunDir);
    Record record;
    auto volumes = volumes_for(lx::LvmSnapshotMode::classic, kSeedGroup, "16m");
    RecordingMounter mounter(record);
    RecordingSupervisor supervisor(supervisor_config(), record);
    lx::DirectoryJournal journal(kJournalDir);
    Session session(volumes, mounter, supervisor, journal, session_config(), next_nonce);

    Report report = session.run(request("seedbase", {"/bin/true"}));
    context.note(format_report(report));
    VM_CHECK(context, !report.errors.empty());
    if (!report.errors.empty()) {
      VM_CHECK_MSG(context, report.errors.front().code == ENOSPC, report.errors.front().message());
      VM_CHECK_MSG(context, report.errors.front().detail.find("free space") != std::string::npos,
                   "the error carries lvm's own message");
    }
    VM_CHECK(context, !report.build.has_value());

    auto who = [&](Pid pid) {
      return pid == on_root.pid       ? std::string("the sentinel on /")
             : pid == on_run_dir.pid ? std::string("the sentinel on the run dir")
                                     : fmt::format("process {}", pid);
    };
    for (const auto& path : record.unmounts)
      VM_CHECK_MSG(context, false, fmt::format("INVARIANT VIOLATED I2: the teardown unmounted '{}', which it never mounted", path));
    for (DeviceId device : record.holder_scans)
      VM_CHECK_MSG(context, false, fmt::format("INVARIANT VIOLATED I2: the teardown killed by mount on device {}", device));
    for (Pid pid : record.matched)
      VM_CHECK_MSG(context, false, fmt::format("INVARIANT VIOLATED I2: a kill-by-mount matched {} (pid {})", who(pid), pid));
    for (Pid pid : record.signalled)
      VM_CHECK_MSG(context, false, fmt::format("INVARIANT VIOLATED I1: the teardown would have signalled {}", who(pid)));
    VM_CHECK(context, report.clean());
    VM_CHECK(context, entries_of(kRunDir).empty());
    auto left = volumes.list(kPrefix);
    VM_CHECK(context, left && left->empty());
    VM_CHECK_MSG(context, on_root.alive(), "I1: the sentinel on / survives");
    VM_CHECK_MSG(context, on_run_dir.alive(), "I1: the sentinel on the run dir survives");
  }
}

const Register registered(200, "seed-scenario", seed_scenario);

}  // namespace
}  // namespace snapcell::vm
