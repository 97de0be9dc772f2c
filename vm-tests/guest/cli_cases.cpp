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
#include <unistd.h>

#include <cstdlib>

#include "cli_checks.hpp"

namespace snapcell::vm {
namespace {

void cli_run(CaseContext& context, const char* origin) {
  const std::string device = device_of_origin(kVolumeGroup, origin);
  const std::string before = fingerprint(device);
  std::vector<Sentinel> sentinels{Sentinel("/"), Sentinel(kRunDir)};
  const auto ran = sh(fmt::format(
      "{} run --backend lvm --base {}/{} --state-dir {} --cgroup-parent {} --timeout 60 --summary -- "
      "/bin/sh -c 'echo built > /artifact && cat /artifact && exec /bin/setsid_escape'",
      kCli, kVolumeGroup, origin, kCliState, cli_cgroups()));
  context.note(fmt::format("snapcell run exited {}: {}{}", ran.exit_code, lx::one_line(ran.out), lx::one_line(ran.err)));
  VM_CHECK_MSG(context, ran.exit_code == 0, "snapcell run --backend lvm exits 0");
  VM_CHECK_MSG(context, ran.out.find("nothing left") != std::string::npos, "the CLI reports nothing left");

  check_nothing_of_the_cli_left(context);
  VM_CHECK_MSG(context, fingerprint(device) == before, "I4: the origin is unchanged");
  for (const auto& sentinel : sentinels) {
    VM_CHECK_MSG(context, sentinel.alive(), fmt::format("I1: sentinel {} was killed", sentinel.pid));
    ::kill(sentinel.pid, SIGKILL);
    ::waitpid(sentinel.pid, nullptr, 0);
  }
}

struct ScopedSentinel : Sentinel {
  using Sentinel::Sentinel;
  ~ScopedSentinel() {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
};

// The seed scenario through the CLI: the VG has room for a 4 MiB snapshot
// but not for 16, lvcreate refuses, and the mount point is left a bare
// directory on the CLI's run tmpfs. `snapcell run` must exit 3 with lvm's
// words, unmount nothing (not even try: its report shows any umount2) and
// signal nothing: a sentinel whose cwd is on that
// very tmpfs (where a kill-by-mount on the bare directory would land, as it
// landed on `/` in the field) and those on / and the run dir stay alive.
void cli_seed_scenario(CaseContext& context) {
  constexpr const char* group = "cliseedvg";
  constexpr const char* pv = "/dev/mapper/snapcell-cliseedpv";
  Cleanup undo(lvm(fmt::format("vgremove -f {}", group)) + "; " + lvm(fmt::format("pvremove -y {}", pv)) +
               "; dmsetup remove --noudevsync snapcell-cliseedpv");
  sh_or_throw(fmt::format("dmsetup create --noudevsync --verifyudev snapcell-cliseedpv --table '0 81920 linear {} 2048'",
                          kSpareDisk));
  sh_or_throw(lvm(fmt::format("pvcreate -y {}", pv)));
  sh_or_throw(lvm(fmt::format("vgcreate -s 1m {} {}", group, pv)));
  sh_or_throw(lvm(fmt::format("lvcreate -y -L 32m -n seedbase {}", group)));
  make_base_filesystem(device_of_origin(group, "seedbase"), "cli-seed-base");
  auto run = [&](const char* cow_size) {
    return sh(fmt::format("{} run --backend lvm --base {}/seedbase --cow-size {} --state-dir {} --cgroup-parent {} --summary "
                          "-- /bin/true",
                          kCli, group, cow_size, kCliState, cli_cgroups()));
  };
  // One that fits first: the state dir and its run tmpfs exist from here on.
  const auto fits = run("4m");
  context.note(fmt::format("with --cow-size 4m: exit {}: {}{}", fits.exit_code, lx::one_line(fits.out), lx::one_line(fits.err)));
  if (!VM_CHECK_MSG(context, fits.exit_code == 0, "a snapshot that fits the VG runs")) return;

  const auto mounts_before = mount_points();
  ScopedSentinel on_root("/");
  ScopedSentinel on_run_dir(kRunDir);
  ScopedSentinel on_cli_run_tmpfs(std::string(kCliState) + "/mnt");
  const auto full = run("16m");
  const std::string said = lx::one_line(full.out) + " " + lx::one_line(full.err);
  context.note(fmt::format("with --cow-size 16m: exit {}: {}", full.exit_code, said));
  VM_CHECK_MSG(context, full.exit_code == 3, "a VG too full for the snapshot: exit 3");
  VM_CHECK_MSG(context, said.find("insufficient free space") != std::string::npos, "the CLI says what lvm said");
  // The bare directory is not the session's mount: teardown must see that
  // and leave it (the report says "not a mount point"), not try umount2 on it.
  VM_CHECK_MSG(context, said.find("umount2") == std::string::npos,
               "INVARIANT VIOLATED I2: teardown tried to unmount the bare mount point, which it never mounted");
  VM_CHECK_MSG(context, said.find("nothing left") != std::string::npos, "the CLI reports nothing left");
  VM_CHECK_MSG(context, on_root.alive(), "INVARIANT VIOLATED I1: the sentinel on / was killed");
  VM_CHECK_MSG(context, on_run_dir.alive(), "INVARIANT VIOLATED I1: the sentinel on the run dir was killed");
  VM_CHECK_MSG(context, on_cli_run_tmpfs.alive(),
               "INVARIANT VIOLATED I2: the sentinel on the CLI's run tmpfs was killed (a kill-by-mount on the bare mount point)");
  VM_CHECK_MSG(context, mount_points() == mounts_before, "INVARIANT VIOLATED I2: the mount table changed");
  for (const auto& entry : entries_of(std::string(kCliState) + "/mnt"))
    VM_CHECK_MSG(context, false, fmt::format("I3: mount point {}/mnt/{} is left", kCliState, entry));
  auto left = volumes_for(lx::LvmSnapshotMode::classic, group).list("snapcell-");
  VM_CHECK(context, left && left->empty());
}

// `snapcell run` SIGKILLed mid-build leaves its LV, mounts and cgroup;
// `snapcell reap`, told nothing of LVM, must find the VG in the journal,
// remove them all and say so.
void cli_crash_then_reap(CaseContext& context) {
  const auto started = sh(fmt::format("{} run --backend lvm --base {}/{} --state-dir {} --cgroup-parent {} --timeout 120 "
                                      "-- /bin/sleep 1000 >/dev/null 2>&1 & echo $!",
                                      kCli, kVolumeGroup, kClassicOrigin, kCliState, cli_cgroups()));
  const pid_t cli = static_cast<pid_t>(std::atoi(started.out.c_str()));
  if (!VM_CHECK_MSG(context, cli > 1, "snapcell run started in the background: " + started.out + started.err)) return;
  auto snapshot_listed = [] {
    auto snapshots = cli_snapshots();
    return snapshots && !snapshots->empty();
  };
  auto build_runs = [] { return !processes_outside_root().empty(); };
  bool running = false;
  for (int i = 0; i < 300 && !running; ++i) {
    running = snapshot_listed() && build_runs();
    if (!running) ::usleep(100'000);
  }
  if (!VM_CHECK_MSG(context, running, "the build runs in its snapshot")) {
    ::kill(cli, SIGKILL);
    return;
  }
  ::kill(cli, SIGKILL);
  // Orphaned by its shell, it stays a zombie of the suite (PID 1 here).
  auto gone = [cli] {
    auto stat = lx::read_file(fmt::format("/proc/{}/stat", cli));
    return !stat || stat->find(") Z") != std::string::npos;
  };
  for (int i = 0; i < 100 && !gone(); ++i) ::usleep(50'000);
  VM_CHECK_MSG(context, snapshot_listed(), "the killed CLI left its snapshot (reap has work to do)");

  // No --vg: the journal's record names the VG.
  const auto reaped = sh(fmt::format("{} reap --state-dir {} --cgroup-parent {}", kCli, kCliState, cli_cgroups()));
  context.note(fmt::format("snapcell reap exited {}: {}{}", reaped.exit_code, lx::one_line(reaped.out), lx::one_line(reaped.err)));
  VM_CHECK_MSG(context, reaped.exit_code == 0, "snapcell reap exits 0");
  VM_CHECK_MSG(context, reaped.out.find("reaped 1 session(s), 0 left with remains") != std::string::npos,
               "reap names the one session it cleaned");
  check_nothing_of_the_cli_left(context);
}

const Register classic(600, "cli-run-lvm-classic-default", [](CaseContext& c) { cli_run(c, kClassicOrigin); });
const Register thin(610, "cli-run-lvm-thin-default", [](CaseContext& c) { cli_run(c, kThinOrigin); });
const Register seed(620, "cli-seed-scenario", cli_seed_scenario);
const Register crash(630, "cli-killed-then-reap", cli_crash_then_reap);

}  // namespace
}  // namespace snapcell::vm
