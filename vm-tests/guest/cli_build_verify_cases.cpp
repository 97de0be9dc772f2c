// `snapcell verify` and `snapcell build` on real LVM (issue 16, item 3):
//   cli-verify-lvm-default  verify --backend lvm --vg: the whole catalogue,
//                           each technique in a classic snapshot of an origin
//                           verify makes and removes itself; the JSON report
//                           goes to the host, which compares it with
//                           harness/verify/expected/lvm-default.txt
//   cli-build-sdist-lvm     build six-1.17.0.tar.gz on an origin LV holding
//                           the builder tests' Debian base (copied from
//                           /dev/vdc, made on the host: the guest has no
//                           network); the wheel goes to the host, which
//                           checks it (vm-tests/check-wheel)
// After each, the guest looks for itself: nothing of the CLI left, the
// origin unchanged.

#include <fcntl.h>
#include <sys/stat.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_checks.hpp"

namespace snapcell::vm {
namespace {

constexpr const char* kSdist = "/snapcell/corpus/six-1.17.0.tar.gz";
constexpr const char* kPythonBaseDisk = "/dev/vdc";
constexpr const char* kPythonOrigin = "pybase";

// The whitespace-separated words of a tool's output.
std::vector<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> all;
  for (std::string word; in >> word;) all.push_back(word);
  return all;
}

// A file for the host, between the markers vm-tests/run turns into
// results/files/<name> (base64: the console is a text stream).
void send_to_host(const std::string& case_name, const std::string& path) {
  const std::string name = path.substr(path.rfind('/') + 1);
  const auto encoded = sh(fmt::format("base64 '{}'", path));
  if (encoded.exit_code != 0) {
    fmt::print("  cannot encode {}: {}\n", path, encoded.err);
    return;
  }
  fmt::print("SNAPCELL-VM-FILE-BEGIN {} {}\n{}SNAPCELL-VM-FILE-END\n", case_name, name, encoded.out);
  std::fflush(stdout);
}

// What verify may leave nowhere: its origin LV, its scratch mounts, its cgroups.
void check_nothing_of_verify_left(CaseContext& context) {
  const auto lvs = sh(lvm(fmt::format("lvs --noheadings -o lv_name {}", kVolumeGroup)));
  for (const auto& lv : words(lvs.out))
    VM_CHECK_MSG(context, lv.rfind("verify-base-", 0) != 0 && lv.rfind("snapcell-", 0) != 0,
                 fmt::format("I3: LV {} is left", lv));
  for (const auto& point : mount_points())
    VM_CHECK_MSG(context, point.rfind("/tmp/snapcell-verify", 0) != 0, fmt::format("I3: {} is still mounted", point));
  for (const auto& entry : entries_of(cgroup_v2()))
    VM_CHECK_MSG(context, entry.rfind("snapcell-verify", 0) != 0, fmt::format("I3: cgroup {} is left", entry));
  for (const auto& process : processes_outside_root())
    VM_CHECK_MSG(context, false, fmt::format("I3: process {} still runs in a chroot", process));
}

void cli_verify_lvm(CaseContext& context) {
  // The loopback listener of reaches_network needs 127.0.0.1, which the
  // guest has only once lo is up.
  sh("ip link set lo up");
  const std::string report = "/tmp/verify-lvm-default.json";
  std::vector<Sentinel> sentinels{Sentinel("/"), Sentinel(kRunDir)};
  const auto ran = sh(fmt::format("SNAPCELL_ADVERSARIES_DIR=/snapcell/adversaries {} verify --backend lvm --vg {} --json > {}",
                                  kCli, kVolumeGroup, report));
  context.note(fmt::format("snapcell verify --backend lvm exited {}: {}", ran.exit_code, lx::one_line(ran.err)));
  // 0: all contained; 1: a leak the matrix explains (the host compares the
  // cells); 3: a technique not run or setup failed, never acceptable.
  VM_CHECK_MSG(context, ran.exit_code == 0 || ran.exit_code == 1, "verify ran every technique (exit 0 or 1)");
  auto text = lx::read_file(report);
  if (VM_CHECK_MSG(context, text.is_ok(), "verify wrote its report")) {
    const auto json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (VM_CHECK_MSG(context, json.is_object() && json.value("schema", "") == "snapcell.verify/1", "a snapcell.verify/1 report")) {
      for (const auto& row : json["techniques"])
        context.note(fmt::format("{} {} {}", row.value("technique", "?"), row.value("verdict", "?"), row.value("why", "")));
      VM_CHECK_MSG(context, json["counts"].value("error", -1) == 0, "no technique is an error (not run)");
      VM_CHECK_MSG(context, json.value("base", "").find("origin LV") != std::string::npos, "the base was verify's own origin LV");
    }
    send_to_host("cli-verify-lvm-default", report);
    // Its exit status too: the host checks it agrees with the report's "ok".
    if (lx::write_file("/tmp/verify-lvm-default.status", fmt::format("{}\n", ran.exit_code), O_WRONLY | O_CREAT | O_TRUNC))
      send_to_host("cli-verify-lvm-default", "/tmp/verify-lvm-default.status");
  }
  check_nothing_of_verify_left(context);
  for (const auto& sentinel : sentinels) {
    VM_CHECK_MSG(context, sentinel.alive(), fmt::format("I1: sentinel {} was killed", sentinel.pid));
    ::kill(sentinel.pid, SIGKILL);
    ::waitpid(sentinel.pid, nullptr, 0);
  }
}

// Seconds since the last lap.
class Stopwatch {
 public:
  double lap() {
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    return seconds;
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// The md5 of the first `bytes` of a block device. Hashing all 845 MiB of
// the Python base takes 94 s under TCG; its first 32 MiB hold the ext4
// superblock (mount count, last mount and write times, free block and
// inode counts) and the first groups' descriptors, bitmaps and inode
// tables, which any mount or write of the origin changes.
std::string md5_of_head(const std::string& device, std::uint64_t bytes) {
  const auto sums = words(sh(fmt::format("head -c {} {} | md5sum", bytes, device)).out);
  return sums.empty() ? "unreadable" : sums.front();
}

void cli_build_sdist_lvm(CaseContext& context) {
  struct stat disk {};
  if (!VM_CHECK_MSG(context, ::stat(kPythonBaseDisk, &disk) == 0 && S_ISBLK(disk.st_mode),
                    "no Python base disk /dev/vdc: boot with vm-tests/run and SNAPCELL_VM_PYBASE (ctest vm/boot does)"))
    return;
  if (!VM_CHECK_MSG(context, ::access(kSdist, R_OK) == 0, fmt::format("{} is in the image", kSdist))) return;
  const auto size = words(sh(fmt::format("blockdev --getsize64 {}", kPythonBaseDisk)).out);
  const std::uint64_t bytes = size.empty() ? 0 : std::stoull(size.front());
  if (!VM_CHECK_MSG(context, bytes > 0, "the Python base disk has a size")) return;
  const std::string origin = device_of_origin(kVolumeGroup, kPythonOrigin);
  Cleanup undo(lvm(fmt::format("lvremove -f {}/{}", kVolumeGroup, kPythonOrigin)) + "; rm -rf /tmp/wheels");
  sh_or_throw(lvm(fmt::format("lvcreate -y -L {}b -n {} {}", bytes, kPythonOrigin, kVolumeGroup)));
  Stopwatch watch;
  sh_or_throw(fmt::format("dd if={} of={} bs=4M conv=fsync 2>/dev/null", kPythonBaseDisk, origin));
  context.note(fmt::format("the Python base: {} MiB copied into {} in {:.1f} s", bytes >> 20, origin, watch.lap()));
  constexpr std::uint64_t kHashed = 32ull << 20;
  const std::string before = md5_of_head(origin, kHashed);
  context.note(fmt::format("its md5 in {:.1f} s", watch.lap()));

  std::vector<Sentinel> sentinels{Sentinel("/"), Sentinel(kRunDir)};
  const auto built = sh(fmt::format(
      "{} build {} --backend lvm --base {}/{} --out /tmp/wheels --state-dir {} --cgroup-parent {} --timeout 900 --json",
      kCli, kSdist, kVolumeGroup, kPythonOrigin, kCliState, cli_cgroups()));
  context.note(fmt::format("snapcell build exited {} in {:.1f} s: {}", built.exit_code, watch.lap(), lx::one_line(built.err)));
  const auto json = nlohmann::json::parse(built.out, nullptr, /*allow_exceptions=*/false);
  VM_CHECK_MSG(context, built.exit_code == 0, "snapcell build --backend lvm exits 0");
  if (VM_CHECK_MSG(context, json.is_object(), "a JSON build report: " + lx::one_line(built.out))) {
    context.note(fmt::format("outcome {}, wheels {}, cleanup {}", json.value("outcome", "?"), json["wheels"].dump(),
                             json["cleanup"].dump()));
    VM_CHECK_MSG(context, json["cleanup"].value("volume_removed", false), "the build says its snapshot LV is removed");
  }
  const auto wheels = sh("ls /tmp/wheels/*.whl");
  const auto listed = words(wheels.out);
  if (VM_CHECK_MSG(context, listed.size() == 1, "one wheel in --out: " + lx::one_line(wheels.out + wheels.err)))
    send_to_host("cli-build-sdist-lvm", listed.front());

  check_nothing_of_the_cli_left(context);
  VM_CHECK_MSG(context, md5_of_head(origin, kHashed) == before,
               "I4: the origin is unchanged (its superblock and first groups, byte for byte)");
  for (const auto& sentinel : sentinels) {
    VM_CHECK_MSG(context, sentinel.alive(), fmt::format("I1: sentinel {} was killed", sentinel.pid));
    ::kill(sentinel.pid, SIGKILL);
    ::waitpid(sentinel.pid, nullptr, 0);
  }
}

const Register verify(650, "cli-verify-lvm-default", cli_verify_lvm);
const Register build(660, "cli-build-sdist-lvm", cli_build_sdist_lvm);

}  // namespace
}  // namespace snapcell::vm
