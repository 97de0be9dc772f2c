// The field's seed scenario on the real kernel: the filesystem that holds the
// snapshots is full, the snapshot fails, nothing is mounted, and the bare
// mount-point directory is left where the mount should have been. Teardown
// must not act on that directory's filesystem: no unmount, no kill-by-mount,
// no signal. Unmounting and signalling go through recorders here, so that a
// weakened build of this test (mutant/host-no-root-guard) shows, without
// harming anything, what it would have done: signal the sentinels.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "host/support.hpp"
#include "snapcell/linux/directory_journal.hpp"
#include "snapcell/linux/overlay_volumes.hpp"
#include "snapcell/linux/supervisors.hpp"
#include "snapcell/linux/syscall_mounter.hpp"
#include "snapcell/session.hpp"

using namespace snapcell;
using namespace snapcell::testing;

namespace {

struct Record {
  std::vector<std::string> unmounts;
  std::vector<DeviceId> holder_scans;
  std::vector<Pid> matched;    // what those kill-by-mount scans found
  std::vector<Pid> signalled;
};

// The real mounter, but umount2 never reaches the kernel: it is recorded and
// answered as the kernel answers for a busy mount whose device something
// holds (which is what a cleanup that mistakes a directory for the mount
// would then go on to act on).
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
  linux_sys::SyscallMounter real_;
  Record& record_;
};

// The real default supervisor, but signal_member only records its target.
class RecordingSupervisor : public linux_sys::DefaultSupervisor {
 public:
  RecordingSupervisor(linux_sys::SupervisorConfig config, Record& record)
      : linux_sys::DefaultSupervisor(std::move(config)), record_(record) {}
  Status signal_member(Unit&, Pid pid, int) {
    record_.signalled.push_back(pid);
    return {};
  }

 private:
  Record& record_;
};

// A process of the test's own with its cwd and an open file on `dir`.
struct Sentinel {
  Pid pid = 0;
  explicit Sentinel(const std::string& dir) {
    pid = ::fork();
    if (pid == 0) {
      if (::chdir(dir.c_str()) != 0) ::_exit(1);
      int fd = ::open(".", O_RDONLY | O_DIRECTORY);
      (void)fd;
      ::pause();
      ::_exit(0);
    }
  }
  bool alive() const { return ::kill(pid, 0) == 0; }
  ~Sentinel() {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
};

}  // namespace

TEST_CASE("host seed scenario: a full volume filesystem fails the snapshot, and teardown leaves the bare directory's "
          "filesystem alone",
          "[host][seed]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  mount_tmpfs(scratch / "volumes", "mode=0700,size=64k,nr_inodes=8");  // the volume filesystem: full at once
  mount_tmpfs(scratch / "mnt", "mode=0700,size=1m");                    // the run dir: where the bare dir will be
  make_dir(scratch / "journal", 0700);
  make_dir(scratch / "base");
  for (int i = 0;; ++i)  // fill the volume filesystem's inodes
    if (::mkdir((scratch / "volumes") .append("/fill-" + std::to_string(i)).c_str(), 0700) != 0) break;

  Sentinel on_root("/");
  Sentinel on_run_dir(scratch / "mnt");
  REQUIRE(on_root.alive());
  REQUIRE(on_run_dir.alive());

  Record record;
  linux_sys::OverlayVolumes volumes(scratch / "volumes");
  RecordingMounter mounter(record);
  CgroupParent cgroups;  // never used: nothing is spawned
  const auto& layout = linux_sys::host_cgroup_layout();
  REQUIRE(layout);
  linux_sys::SupervisorConfig config = linux_sys::supervisor_config_for(*layout);
  config.cgroup_parent = cgroups.path();
  RecordingSupervisor supervisor(config, record);
  linux_sys::DirectoryJournal journal(scratch / "journal");
  SessionConfig session_config;
  session_config.run_dir = scratch / "mnt";
  Session session(volumes, mounter, supervisor, journal, session_config, [] { return std::uint64_t{0x5eed}; });

  Report report = session.run(BuildRequest{scratch / "base", {"/bin/true"}, "", {}});
  INFO(format_report(report));
  REQUIRE_FALSE(report.errors.empty());
  CHECK(report.errors.front().code == ENOSPC);
  CHECK_FALSE(report.build.has_value());

  std::vector<std::string> violations;
  for (const auto& path : record.unmounts)
    violations.push_back(fmt::format("INVARIANT VIOLATED I2: the teardown unmounted '{}', which it never mounted", path));
  for (DeviceId device : record.holder_scans)
    violations.push_back(fmt::format("INVARIANT VIOLATED I2: the teardown killed by mount on device {}", device));
  auto who = [&](Pid pid) -> std::string {
    return pid == on_root.pid ? "the sentinel on /" : pid == on_run_dir.pid ? "the sentinel on the run dir"
                                                                            : fmt::format("process {}", pid);
  };
  for (Pid pid : record.matched)
    violations.push_back(fmt::format("INVARIANT VIOLATED I2: a kill-by-mount matched {} (pid {})", who(pid), pid));
  for (Pid pid : record.signalled)
    violations.push_back(fmt::format("INVARIANT VIOLATED I1: the teardown would have signalled {}", who(pid)));
  for (const auto& line : violations) UNSCOPED_INFO(line);
  CHECK(violations.empty());
  CHECK(report.clean());
  CHECK_FALSE(exists(scratch / "mnt/snapcell-0000000000005eed"));  // the bare directory was ours: removed
  CHECK(on_root.alive());
  CHECK(on_run_dir.alive());
}
