#pragma once
// The guest's fixed world, shared by every case: the volume group on the
// first disk with a classic origin and a thin origin, the run dir, the
// journal dir and the cgroup parent the sessions use, and the checks of
// the world after each case (I1-I4, read from /proc, mountinfo and lvs,
// not from any session's account of itself).

#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "snapcell/linux/directory_journal.hpp"
#include "snapcell/linux/lvm_volumes.hpp"
#include "snapcell/linux/supervisors.hpp"
#include "snapcell/linux/syscall_mounter.hpp"
#include "snapcell/reap.hpp"
#include "snapcell/session.hpp"
#include "vm_runner.hpp"

namespace snapcell::vm {

namespace lx = snapcell::linux_sys;

inline constexpr const char* kVolumeGroup = "vmvg";
inline constexpr const char* kClassicOrigin = "base";
inline constexpr const char* kThinPool = "pool";
inline constexpr const char* kThinOrigin = "thinbase";
inline constexpr const char* kPrefix = "vmtest";
inline constexpr const char* kRunDir = "/srv/run";
inline constexpr const char* kJournalDir = "/run/snapcell-journal";
inline constexpr const char* kMainDisk = "/dev/vda";
inline constexpr const char* kSpareDisk = "/dev/vdb";
// The `snapcell` executable in the image, and the state dir and cgroup
// parent its cases give it (apart from the library cases' own).
inline constexpr const char* kCli = "/snapcell/snapcell";
inline constexpr const char* kCliState = "/run/snapcell-cli";

// The guest's cgroup v2 hierarchy (pure v2, mounted by guest-init as systemd
// would), from the host layer like everything else that uses cgroups; the
// library cases' parent and the CLI cases' parent in it.
inline const std::string& cgroup_v2() {
  static const std::string mount = [] {
    const auto& layout = lx::host_cgroup_layout();
    if (!layout) throw std::runtime_error(layout.error().message());
    return layout->v2_mount;
  }();
  return mount;
}
inline std::string cgroup_parent() { return cgroup_v2() + "/snapcell-vm"; }
inline std::string cli_cgroups() { return cgroup_v2() + "/snapcell-cli"; }

// The measure cases' statistic: the guest may be emulated and noisy.
inline double median_of(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// ---- setup helpers (test code: a shell is fine here, never in the policies) ----
// busybox sh prefers its own applets to PATH: tools that busybox also
// provides (mke2fs) are called by their full path.

inline lx::CommandOutput sh(const std::string& script) {
  auto ran = lx::run_capturing({"/bin/sh", "-c", script});
  if (!ran) return {127, "", ran.error().message()};
  return std::move(ran).value();
}

inline void sh_or_throw(const std::string& script) {
  auto ran = sh(script);
  if (ran.exit_code != 0)
    throw std::runtime_error(fmt::format("setup failed ({}): {}\n{}{}", ran.exit_code, script, ran.out, ran.err));
}

// Runs a setup's undo when the case ends, however it ends (best effort: a
// failure is printed, and the world check after the case shows what is left).
class Cleanup {
 public:
  explicit Cleanup(std::string script) : script_(std::move(script)) {}
  Cleanup(const Cleanup&) = delete;
  Cleanup& operator=(const Cleanup&) = delete;
  ~Cleanup() {
    auto ran = sh(script_);
    if (ran.exit_code != 0) fmt::print("  cleanup failed ({}): {}\n{}{}", ran.exit_code, script_, ran.out, ran.err);
  }

 private:
  std::string script_;
};

inline std::string lvm(const std::string& arguments) { return "/sbin/lvm " + arguments + " --config '" + lx::LvmOptions::without_udev().config + "'"; }

// Real `lvs --reportformat json` output, between markers that vm-tests/run
// turns into results/lvs-json/<label>.json: the seed corpus of the
// lvm_report fuzz target (fuzz/corpus/lvm_report/) comes from these.
inline void print_lvs_json(const std::string& label) {
  auto listed = sh(lvm(fmt::format("lvs --reportformat json -o {}", lx::LvmVolumes::report_fields)));
  fmt::print("SNAPCELL-VM-LVS-JSON-BEGIN {}\n{}SNAPCELL-VM-LVS-JSON-END\n", label, listed.out);
}

inline lx::LvmVolumes volumes_for(lx::LvmSnapshotMode mode, std::string group = kVolumeGroup,
                                  std::string classic_size = "64m") {
  lx::LvmConfig config;
  config.volume_group = std::move(group);
  config.mode = mode;
  config.classic_size = std::move(classic_size);
  config.lvm = lx::LvmOptions::without_udev();
  return lx::LvmVolumes(config);
}

inline lx::SupervisorConfig supervisor_config() {
  lx::SupervisorConfig config = lx::supervisor_config_for(lx::host_cgroup_layout().value());
  config.cgroup_parent = cgroup_parent();
  return config;
}

inline SessionConfig session_config(Millis deadline = Millis{20'000}) {
  SessionConfig config;
  config.prefix = kPrefix;
  config.run_dir = kRunDir;
  config.deadline = deadline;
  config.grace = Millis{500};
  config.limits.max_processes = 128;
  config.limits.max_memory_bytes = 256ull << 20;
  return config;
}

// Unique per process and call; the journal claim is what makes names unique.
inline std::uint64_t next_nonce() {
  static std::uint64_t counter = 0;
  const auto now = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return (static_cast<std::uint64_t>(::getpid()) << 40) ^ (now & 0xffffffffffull) ^ (++counter << 20);
}

inline BuildRequest request(const std::string& origin, std::vector<std::string> argv, const std::string& log = "") {
  BuildRequest request;
  request.origin = origin;
  request.argv = std::move(argv);
  request.log_path = log;
  return request;
}

// A small base chroot: busybox,
// the adversaries the guest cases run, the directories the sandbox mounts on,
// and /etc/marker. Only those adversaries: the whole catalogue (38 static
// programs, 29 MiB) no longer fits the 32 MiB origins of the seed and
// flakey cases, whose sizes are part of what those cases test. These are
// the shell lines that fill the directory in $m with that base.
inline std::string populate_base_script(const std::string& marker) {
  return fmt::format(
      "mkdir -p $m/bin $m/proc $m/dev $m/tmp $m/mnt $m/etc $m/usr; cp /bin/busybox $m/bin/busybox; "
      "for a in sh sleep dd sync echo cat true false ls; do ln -s busybox $m/bin/$a; done; "
      "cp /snapcell/adversaries/setsid_escape /snapcell/adversaries/well_behaved $m/bin/; echo {} > $m/etc/marker",
      marker);
}

// That base on a new ext4 filesystem on `device`.
inline void make_base_filesystem(const std::string& device, const std::string& marker) {
  sh_or_throw(fmt::format(
      "set -e; /sbin/mke2fs -q -F -t ext4 -E nodiscard,lazy_itable_init=1,lazy_journal_init=1 {0}; "
      "m=$(mktemp -d /tmp/populate.XXXXXX); trap 'umount $m 2>/dev/null; rmdir $m' EXIT; mount -t ext4 {0} $m; {1}",
      device, populate_base_script(marker)));
}

// The same base as a plain directory, for the backends that take one (overlay).
inline void make_base_directory(const std::string& dir, const std::string& marker) {
  sh_or_throw(fmt::format("set -e; m={}; mkdir -p $m; {}", dir, populate_base_script(marker)));
}

// What an origin holds, as a string that changes if any file does: every
// path with its size and an FNV-1a hash of its content (mounted read-only,
// without journal replay, so that looking cannot change it).
inline std::string fingerprint(const std::string& device) {
  auto ran = sh(fmt::format(
      "set -e; m=$(mktemp -d /tmp/fingerprint.XXXXXX); trap 'umount $m 2>/dev/null; rmdir $m' EXIT; "
      "mount -t ext4 -o ro,noload {0} $m; "
      "(cd $m && find . -path ./lost+found -prune -o -print | sort | while read -r f; do "
      "if [ -f \"$f\" ] && [ ! -L \"$f\" ]; then echo \"$f $(md5sum < \"$f\" | cut -d' ' -f1)\"; else echo \"$f\"; fi; done)",
      device));
  if (ran.exit_code != 0) return "unreadable: " + ran.err;
  return ran.out;
}

inline std::string device_of_origin(const std::string& group, const std::string& origin) {
  return fmt::format("/dev/{}/{}", group, origin);
}

// ---- the world after a case ---------------------------------------------------

inline std::vector<std::string> entries_of(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* entry = ::readdir(d))
      if (std::string(entry->d_name) != "." && std::string(entry->d_name) != "..") names.push_back(entry->d_name);
    ::closedir(d);
  }
  return names;
}

inline std::set<std::string> mount_points() {
  std::set<std::string> points;
  auto mounts = lx::read_mountinfo();
  if (mounts)
    for (const auto& entry : *mounts) points.insert(entry.mount_point);
  return points;
}

// Processes whose root is not the guest's /: chrooted or pivoted, so a
// build's (kernel threads and the suite itself share /).
inline std::vector<std::string> processes_outside_root() {
  std::vector<std::string> found;
  struct stat root {};
  if (::stat("/", &root) != 0) return {"cannot stat /"};
  for (const auto& name : entries_of("/proc")) {
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    // Kernel threads (kthreadd and its children) are not builds; kdevtmpfs
    // has a root of its own.
    auto stat_text = lx::read_file(fmt::format("/proc/{}/stat", name));
    if (!stat_text) continue;  // gone
    const auto close = stat_text->rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat_text->substr(close + 1));
    char state = '?';
    int ppid = -1;
    fields >> state >> ppid;
    if (name == "2" || ppid == 2) continue;
    struct stat st {};
    if (::stat(fmt::format("/proc/{}/root", name).c_str(), &st) != 0) continue;  // gone
    if (st.st_dev != root.st_dev || st.st_ino != root.st_ino) {
      auto comm = lx::read_file(fmt::format("/proc/{}/comm", name));
      found.push_back(fmt::format("{} ({})", name, comm ? lx::one_line(*comm) : "?"));
    }
  }
  return found;
}

// Sentinels: processes of the suite whose cwd and an open fd are on / and on
// the run dir's filesystem; no cleanup may ever reach them (I1, I2).
struct Sentinel {
  pid_t pid = -1;
  explicit Sentinel(const std::string& dir) {
    pid = ::fork();
    if (pid == 0) {
      if (::chdir(dir.c_str()) != 0) ::_exit(1);
      (void)::open(".", O_RDONLY | O_DIRECTORY);
      for (;;) ::pause();
    }
  }
  bool alive() const {
    auto stat = lx::read_file(fmt::format("/proc/{}/stat", pid));
    if (!stat) return false;
    auto close = stat->rfind(')');
    return close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] != 'Z';
  }
};

struct WorldBaseline {
  std::set<std::string> mounts;
  std::map<std::string, std::string> origin_fingerprints;  // device -> fingerprint
};

inline void check_world(CaseContext& context, const WorldBaseline& baseline, const std::vector<Sentinel>& sentinels) {
  // I1: nothing outside a build was signalled.
  for (const auto& sentinel : sentinels)
    VM_CHECK_MSG(context, sentinel.alive(), fmt::format("I1: sentinel {} was killed", sentinel.pid));
  // I2: every mount the guest had before is still there.
  const auto now = mount_points();
  for (const auto& point : baseline.mounts)
    VM_CHECK_MSG(context, now.count(point) == 1, fmt::format("I2: the mount at {} is gone", point));
  // I3: no mount, mount point, volume, record, build process or cgroup left.
  for (const auto& point : now)
    VM_CHECK_MSG(context, point.rfind(std::string(kRunDir) + "/", 0) != 0, fmt::format("I3: {} is still mounted", point));
  for (const auto& entry : entries_of(kRunDir)) VM_CHECK_MSG(context, false, fmt::format("I3: {}/{} is left", kRunDir, entry));
  for (const auto& entry : entries_of(kJournalDir))
    VM_CHECK_MSG(context, false, fmt::format("I3: journal record {} is left", entry));
  for (const auto& entry : entries_of(cgroup_parent()))
    if (entry.rfind(kPrefix, 0) == 0) VM_CHECK_MSG(context, false, fmt::format("I3: cgroup {} is left", entry));
  for (const auto& process : processes_outside_root())
    VM_CHECK_MSG(context, false, fmt::format("I3: process {} still runs in a chroot", process));
  auto volumes = volumes_for(lx::LvmSnapshotMode::classic);
  auto listed = volumes.report("");
  if (VM_CHECK_MSG(context, listed.is_ok(), listed ? "" : listed.error().message())) {
    std::set<std::string> names;
    for (const auto& record : *listed) {
      names.insert(record.lv_name);
      VM_CHECK_MSG(context, record.lv_name.rfind(std::string(kPrefix) + "-", 0) != 0,
                   fmt::format("I3: volume {}/{} is left", record.vg_name, record.lv_name));
    }
    // I2: the origins are never removed.
    VM_CHECK_MSG(context, names.count(kClassicOrigin) && names.count(kThinOrigin), "I2: an origin is gone");
  }
  // I4: the origins' content is what it was.
  for (const auto& [device, print] : baseline.origin_fingerprints)
    VM_CHECK_MSG(context, fingerprint(device) == print, fmt::format("I4: the content of {} changed", device));
}

// ---- sessions -----------------------------------------------------------------

template <class S>
struct Policies {
  Policies(lx::LvmVolumes volumes_in) : volumes(std::move(volumes_in)), supervisor(supervisor_config()), journal(kJournalDir) {}
  lx::LvmVolumes volumes;
  lx::SyscallMounter mounter;
  S supervisor;
  lx::DirectoryJournal journal;
};

template <class S>
using GuestSession = Session<lx::LvmVolumes, lx::SyscallMounter, S, lx::DirectoryJournal>;

template <class S>
ReapReport reap_guest(Policies<S>& policies) {
  ReapConfig config{kPrefix, kRunDir, Millis{500}};
  return reap(snapcell::Policies<lx::LvmVolumes, lx::SyscallMounter, S>{policies.volumes, policies.mounter,
                                                                        policies.supervisor},
              policies.journal, config);
}

}  // namespace snapcell::vm
