// Storage that fails under a running build: a classic snapshot whose COW
// space overflows (lvm invalidates it), a thin pool that runs out of data
// space (--errorwhenfull y: writes fail at once rather than queue), and
// I/O errors injected with dm-flakey under the volume group while the build
// writes. In each, the build sees its writes fail, and teardown (or, when
// the storage is still failing, teardown and then reap once it recovers)
// leaves nothing, and the origin is unchanged.

#include <chrono>
#include <thread>

#include "guest_world.hpp"

namespace snapcell::vm {
namespace {

// The build: writes `mib` MiB and fsyncs; exit 3 when a write fails.
std::vector<std::string> writer(int mib) {
  return {"/bin/sh", "-c",
          fmt::format("dd if=/dev/zero of=/fill bs=1M count={} conv=fsync 2>&1 || {{ echo write failed; exit 3; }}", mib)};
}

// Runs a build over `volumes` to its end and returns the session for teardown.
template <class Check>
void run_failing_build(CaseContext& context, lx::LvmVolumes volumes, const std::string& origin,
                       std::vector<std::string> argv, Check while_mounted) {
  Policies<lx::DefaultSupervisor> policies(std::move(volumes));
  GuestSession<lx::DefaultSupervisor> session(policies.volumes, policies.mounter, policies.supervisor, policies.journal,
                                              session_config(Millis{60'000}), next_nonce);
  const std::string log = fmt::format("/tmp/build-{}.log", ::getpid());
  if (!VM_CHECK(context, session.begin(request(origin, std::move(argv), log)).is_ok())) return;
  Status ready = session.setup();
  if (VM_CHECK_MSG(context, ready.is_ok(), ready ? "" : ready.error().message()) &&
      VM_CHECK(context, session.start().is_ok())) {
    auto outcome = session.wait();
    VM_CHECK(context, outcome.is_ok());
    if (outcome) {
      context.note(fmt::format("build exited with {}; its log: {}", outcome->exit_code, lx::one_line(sh("cat " + log).out)));
      VM_CHECK_MSG(context, outcome->exit_code == 3, "the build saw its write fail");
    }
    while_mounted(policies, session.name());
  }
  Report report = session.teardown();
  context.note(format_report(report));
  VM_CHECK(context, report.clean());
}

void classic_overflow(CaseContext& context) {
  const std::string before = fingerprint(device_of_origin(kVolumeGroup, kClassicOrigin));
  run_failing_build(context, volumes_for(lx::LvmSnapshotMode::classic, kVolumeGroup, "8m"), kClassicOrigin, writer(32),
                    [&](Policies<lx::DefaultSupervisor>& policies, const std::string& name) {
                      auto records = policies.volumes.report(name);
                      if (!VM_CHECK(context, records && records->size() == 1)) return;
                      context.note(fmt::format("snapshot {} lv_attr {}", name, records->front().lv_attr));
                      VM_CHECK_MSG(context, records->front().invalid_snapshot(), "lvm reports the snapshot invalidated");
                      print_lvs_json("classic-snapshot-invalidated");
                    });
  VM_CHECK(context, fingerprint(device_of_origin(kVolumeGroup, kClassicOrigin)) == before);
}

void thin_pool_full(CaseContext& context) {
  Cleanup undo(lvm(fmt::format("lvremove -f {0}/smallthin {0}/smallpool", kVolumeGroup)));
  // lvm 2.03.16 refuses --errorwhenfull at lvcreate for a thin pool; lvchange takes it.
  sh_or_throw(lvm(fmt::format("lvcreate -y --type thin-pool -L 32m -n smallpool {}", kVolumeGroup)));
  sh_or_throw(lvm(fmt::format("lvchange --errorwhenfull y {}/smallpool", kVolumeGroup)));
  sh_or_throw(lvm(fmt::format("lvcreate -y -V 128m -T {}/smallpool -n smallthin", kVolumeGroup)));
  const std::string device = device_of_origin(kVolumeGroup, "smallthin");
  make_base_filesystem(device, "small-thin-base");
  const std::string before = fingerprint(device);
  run_failing_build(context, volumes_for(lx::LvmSnapshotMode::thin), "smallthin", writer(64),
                    [&](Policies<lx::DefaultSupervisor>& policies, const std::string&) {
                      auto pool = policies.volumes.report("smallpool");
                      if (!VM_CHECK(context, pool && pool->size() == 1)) return;
                      const double used = pool->front().data_percent.value_or(-1);
                      context.note(fmt::format("pool data_percent {:.2f}", used));
                      VM_CHECK_MSG(context, used >= 99.0, "the pool's data space is used up");
                      print_lvs_json("thin-pool-full");
                    });
  VM_CHECK(context, fingerprint(device) == before);
}

constexpr const char* kFlakyGroup = "flakyvg";
constexpr const char* kFlakyName = "snapcell-flaky";
// 256 MiB of the spare disk from 64 MiB on (the seed case uses 1 to 41 MiB).
constexpr const char* kFlakyExtent = "0 524288 flakey /dev/vdb 131072";

void set_flakey(bool failing) {
  // up 0 s, down 1 day: every I/O fails; up 1 day, down 0 s: none does.
  sh_or_throw(fmt::format("dmsetup suspend --noudevsync {0} && dmsetup load {0} --table '{1} {2}' && "
                          "dmsetup resume --noudevsync {0}",
                          kFlakyName, kFlakyExtent, failing ? "0 86400" : "86400 0"));
}

void flakey_io_errors(CaseContext& context) {
  const std::string pv = fmt::format("/dev/mapper/{}", kFlakyName);
  Cleanup undo(lvm(fmt::format("vgremove -f {}", kFlakyGroup)) + "; " + lvm(fmt::format("pvremove -y {}", pv)) +
               "; dmsetup remove --noudevsync " + kFlakyName);
  sh_or_throw(fmt::format("dmsetup create --noudevsync --verifyudev {} --table '{} 86400 0'", kFlakyName, kFlakyExtent));
  sh_or_throw(lvm(fmt::format("pvcreate -y {}", pv)));
  sh_or_throw(lvm(fmt::format("vgcreate {} {}", kFlakyGroup, pv)));
  sh_or_throw(lvm(fmt::format("lvcreate -y -L 32m -n flakybase {}", kFlakyGroup)));
  const std::string device = device_of_origin(kFlakyGroup, "flakybase");
  make_base_filesystem(device, "flaky-base");
  const std::string before = fingerprint(device);

  Policies<lx::DefaultSupervisor> policies(volumes_for(lx::LvmSnapshotMode::classic, kFlakyGroup, "32m"));
  std::string name;
  {
    GuestSession<lx::DefaultSupervisor> session(policies.volumes, policies.mounter, policies.supervisor,
                                                policies.journal, session_config(Millis{60'000}), next_nonce);
    // Writes and fsyncs in a loop until a write fails (exit 3).
    auto build = request("flakybase", {"/bin/sh", "-c",
                                       "i=0; while [ $i -lt 600 ]; do dd if=/dev/zero of=/w bs=64k count=8 conv=fsync "
                                       "2>/dev/null || { echo write $i failed; exit 3; }; i=$((i+1)); sleep 0.05; done"});
    build.log_path = "/tmp/flaky-build.log";
    if (!VM_CHECK(context, session.begin(build).is_ok())) return;
    name = session.name();
    if (VM_CHECK(context, session.setup().is_ok()) && VM_CHECK(context, session.start().is_ok())) {
      std::this_thread::sleep_for(std::chrono::seconds(2));
      set_flakey(true);
      context.note("dm-flakey: every I/O now fails");
      auto outcome = session.wait();
      VM_CHECK(context, outcome && !outcome->timed_out);
      if (outcome) context.note(fmt::format("build exited with {}: {}", outcome->exit_code, lx::one_line(sh("cat /tmp/flaky-build.log").out)));
      VM_CHECK_MSG(context, outcome && outcome->exit_code == 3, "the build saw a write fail");
    }
    // Teardown while the disk still fails: what cannot be removed must be named.
    Report report = session.teardown();
    context.note(format_report(report));
    VM_CHECK_MSG(context, processes_outside_root().empty(), "no build process outlives teardown");
    for (const auto& point : mount_points())
      VM_CHECK_MSG(context, point.rfind(std::string(kRunDir) + "/", 0) != 0, "unmounted even on a failing disk: " + point);
    for (const auto& left : report.remains) context.note(fmt::format("named as remaining: {} {}", to_string(left.kind), left.target));
  }
  set_flakey(false);
  context.note("dm-flakey: healthy again; reap");
  ReapReport reaped = reap_guest(policies);
  for (const auto& report : reaped.sessions) context.note(format_report(report));
  for (const auto& error : reaped.errors) context.note("reap error: " + error.message());
  VM_CHECK(context, reaped.errors.empty());
  for (const auto& report : reaped.sessions) VM_CHECK(context, report.clean());
  auto left = policies.volumes.list(kPrefix);
  VM_CHECK_MSG(context, left && left->empty(), left ? "" : left.error().message());
  VM_CHECK(context, fingerprint(device) == before);
}

const Register overflow(300, "classic-snapshot-overflows", classic_overflow);
const Register pool_full(310, "thin-pool-out-of-space", thin_pool_full);
const Register flakey(320, "flakey-io-errors-under-build", flakey_io_errors);

}  // namespace
}  // namespace snapcell::vm
