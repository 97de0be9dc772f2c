// `snapcell base create --backend lvm` and `snapcell base rm` on real LVM
// (issue 16): in a VG of the case's own on the spare disk, a busybox tree is
// imported into a classic origin LV and into a thin one; `snapcell run
// --backend lvm --base VG/NAME` runs in it; `base list` shows it; `base rm`
// is refused while a snapshot of the origin remains (the LV stays) and
// removes the LV once the snapshot is gone. Failures leave nothing: a VG
// too small for the LV (lvcreate refuses) and an LV too small for the tree
// (mke2fs -d fails after the LV was made, which must then be removed).
// What the guest's lvs says is the judge, not the CLI's word.

#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "guest_world.hpp"

namespace snapcell::vm {
namespace {

constexpr const char* kGroup = "clibasevg";
constexpr const char* kPool = "clibasepool";
constexpr const char* kBases = "/run/snapcell-cli-bases";
constexpr const char* kTree = "/tmp/cli-base-tree";
constexpr const char* kBigTree = "/tmp/cli-base-big-tree";

std::string said(const lx::CommandOutput& ran) { return lx::one_line(ran.out) + " " + lx::one_line(ran.err); }

lx::CommandOutput cli(CaseContext& context, const std::string& arguments) {
  const auto ran = sh(fmt::format("{} {}", kCli, arguments));
  context.note(fmt::format("snapcell {} -> exit {}: {}", arguments, ran.exit_code, said(ran)));
  return ran;
}

// lv_name -> lv_tags of every LV in the case's VG.
std::map<std::string, std::string> volumes() {
  std::map<std::string, std::string> found;
  const auto listed = sh(lvm(fmt::format("lvs --noheadings --separator '|' -o lv_name,lv_tags {}", kGroup)));
  std::istringstream lines(listed.out);
  std::string line;
  while (std::getline(lines, line)) {
    const auto first = line.find_first_not_of(' ');
    if (first == std::string::npos) continue;
    const auto bar = line.find('|', first);
    found[line.substr(first, bar - first)] = bar == std::string::npos ? "" : line.substr(bar + 1);
  }
  return found;
}

bool base_listed(const std::string& name) {
  const auto listed = sh(fmt::format("{} base list --bases-dir {}", kCli, kBases));
  return listed.exit_code == 0 && (listed.out.rfind(name + " ", 0) == 0 || listed.out.find("\n" + name + " ") != std::string::npos);
}

// The CLI's own snapshots (snapcell-*) in the case's VG: none after a run.
void check_no_cli_snapshot_left(CaseContext& context) {
  for (const auto& [name, tags] : volumes())
    VM_CHECK_MSG(context, name.rfind("snapcell-", 0) != 0, fmt::format("I3: snapshot {}/{} is left", kGroup, name));
}

// One origin through its life: create, run in it, list, rm refused while a
// snapshot of it exists, rm once it is gone. `create_options` picks classic
// or thin; `snapshot_options` how the blocking snapshot is made.
void base_life(CaseContext& context, const std::string& name, const std::string& create_options,
               const std::string& snapshot_options) {
  const auto created = cli(context, fmt::format("base create {} --backend lvm --vg {} {} --from {} --bases-dir {}", name,
                                                kGroup, create_options, kTree, kBases));
  if (!VM_CHECK_MSG(context, created.exit_code == 0, "base create --backend lvm exits 0")) return;
  VM_CHECK_MSG(context, created.out.find(fmt::format("{}/{}", kGroup, name)) != std::string::npos, "it names the origin VG/LV");
  const auto made = volumes();
  VM_CHECK_MSG(context, made.count(name) == 1, fmt::format("the LV {}/{} exists", kGroup, name));
  VM_CHECK_MSG(context, made.count(name) && made.at(name).find("snapcell-base") != std::string::npos,
               "the LV carries the snapcell-base tag");
  VM_CHECK_MSG(context, base_listed(name), "base list shows it");

  const auto ran = cli(context, fmt::format("run --backend lvm --base {}/{} --state-dir {} --cgroup-parent {} --timeout 60 "
                                            "-- /bin/sh -c 'test -x /bin/busybox && test $(cat /etc/marker) = cli-base'",
                                            kGroup, name, kCliState, cli_cgroups()));
  // The build's output is not the CLI's stdout: its exit status says it saw the imported tree.
  VM_CHECK_MSG(context, ran.exit_code == 0, "snapcell run on the new origin exits 0 (busybox and the marker are there)");
  check_no_cli_snapshot_left(context);

  const std::string snapshot = name + "-held";
  sh_or_throw(lvm(fmt::format("lvcreate -y -s {} -n {} {}/{}", snapshot_options, snapshot, kGroup, name)));
  const auto refused = cli(context, fmt::format("base rm {} --bases-dir {}", name, kBases));
  VM_CHECK_MSG(context, refused.exit_code == 2, "base rm while a snapshot of the origin exists: exit 2");
  VM_CHECK_MSG(context, refused.err.find(snapshot) != std::string::npos && std::count(refused.err.begin(), refused.err.end(), '\n') == 1,
               "one line naming the snapshot");
  VM_CHECK_MSG(context, volumes().count(name) == 1, "the origin LV stays");
  VM_CHECK_MSG(context, base_listed(name), "the base stays listed");

  sh_or_throw(lvm(fmt::format("lvremove -y {}/{}", kGroup, snapshot)));
  const auto removed = cli(context, fmt::format("base rm {} --bases-dir {}", name, kBases));
  VM_CHECK_MSG(context, removed.exit_code == 0, "base rm once the snapshot is gone: exit 0");
  VM_CHECK_MSG(context, volumes().count(name) == 0, "the origin LV is gone");
  VM_CHECK_MSG(context, !base_listed(name), "the base is no longer listed");
}

// A creation that fails leaves no LV and no record; `expected` is in its error.
void creation_fails(CaseContext& context, const std::string& name, const std::string& options, const std::string& expected) {
  const auto before = volumes();
  const auto failed = cli(context, fmt::format("base create {} --backend lvm --vg {} {} --bases-dir {}", name, kGroup, options, kBases));
  VM_CHECK_MSG(context, failed.exit_code == 3, "a creation lvm or mke2fs cannot complete: exit 3");
  VM_CHECK_MSG(context, failed.err.find(expected) != std::string::npos, fmt::format("the error says '{}'", expected));
  VM_CHECK_MSG(context, volumes() == before, "no LV is left");
  VM_CHECK_MSG(context, entries_of(kBases).empty(), "no record (nor partial directory) is left");
}

void cli_base_create_and_rm_lvm(CaseContext& context) {
  // A VG of its own on a quarter of the spare disk the other cases use the
  // start of (a linear map at 256 MiB), so that nothing it does touches vmvg.
  Cleanup undo(fmt::format("rm -rf {} {} {}; ", kBases, kTree, kBigTree) + lvm(fmt::format("vgremove -f {}", kGroup)) + "; " +
               lvm("pvremove -y /dev/mapper/snapcell-clibasepv") + "; dmsetup remove --noudevsync snapcell-clibasepv");
  sh_or_throw(fmt::format("dmsetup create --noudevsync --verifyudev snapcell-clibasepv --table '0 491520 linear {} 524288'",
                          kSpareDisk));
  sh_or_throw(lvm("pvcreate -y /dev/mapper/snapcell-clibasepv"));
  sh_or_throw(lvm(fmt::format("vgcreate {} /dev/mapper/snapcell-clibasepv", kGroup)));
  sh_or_throw(lvm(fmt::format("lvcreate -y --type thin-pool -L 64m -n {} {}", kPool, kGroup)));
  make_base_directory(kTree, "cli-base");
  sh_or_throw(fmt::format("mkdir -p {0} && cp -a {1}/. {0}/ && dd if=/dev/urandom of={0}/filler bs=1M count=24 2>/dev/null",
                          kBigTree, kTree));

  // Classic: the default size (the tree's × 1.5 + 64m); the blocking snapshot a classic one.
  base_life(context, "pyless", "", "-L 8m");
  // Thin, sized by --size; the blocking snapshot a thin one (no size, not activated).
  base_life(context, "pylessthin", fmt::format("--thin-pool {} --size 32m", kPool), "");

  creation_fails(context, "toobig", fmt::format("--size 4g --from {}", kTree), "insufficient free space");
  // The LV is made, then mke2fs -d finds no room for 24 MiB in 8: that LV goes again.
  creation_fails(context, "toosmall", fmt::format("--size 8m --from {}", kBigTree), "mke2fs exited with");
}

const Register base_create_and_rm(645, "cli-base-create-and-rm-lvm", cli_base_create_and_rm_lvm);

}  // namespace
}  // namespace snapcell::vm
