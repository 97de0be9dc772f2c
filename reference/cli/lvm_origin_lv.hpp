#pragma once
// An origin LV that snapcell makes itself: `base create --backend lvm` for a
// base, `verify --backend lvm --vg` for the run's own busybox base. Both
// make it the same way (tagged, so that what removes it later can prove it
// is snapcell's) and fill it the same way (mke2fs -d, no mount needed).

#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/lvm_base.hpp"
#include "snapcell/error.hpp"
#include "snapcell/linux/lvm_command.hpp"

namespace snapcell::cli {

struct OriginLvSpec {
  LvmBaseName name;
  std::string thin_pool;  // empty: a classic LV
  std::string size;       // as lvcreate takes it, e.g. 96m
  std::string tag;        // the proof of ownership a later removal asks for
};

// lvcreate of the origin, tagged: classic (`-L S -n LV VG`) or thin (`-V S
// -T VG/POOL -n LV`). -y: stdin is /dev/null, and lvcreate asks before it
// wipes an old signature found where the LV lands.
inline Status create_origin_lv(const linux_sys::LvmOptions& lvm, const OriginLvSpec& spec) {
  std::vector<std::string> args{"-y", "--addtag", spec.tag, "-n", spec.name.origin};
  if (spec.thin_pool.empty()) {
    args.insert(args.end(), {"-L", spec.size, spec.name.volume_group});
  } else {
    args.insert(args.end(), {"-V", spec.size, "-T", fmt::format("{}/{}", spec.name.volume_group, spec.thin_pool)});
  }
  auto created = linux_sys::run_lvm(lvm, "lvcreate", args, qualified_name(spec.name));
  if (!created) return created.error();
  return {};
}

// mke2fs by that name: the guest image has no mkfs.ext4. No discard: a new
// LV holds nothing worth discarding, and a discard of a classic LV can take
// long on a slow disk. An empty `tree` makes an empty filesystem.
inline std::vector<std::string> mke2fs_argv(const std::string& device, const std::string& tree) {
  std::vector<std::string> argv{"mke2fs", "-q", "-F", "-t", "ext4", "-E", "nodiscard"};
  if (!tree.empty()) argv.insert(argv.end(), {"-d", tree});
  argv.push_back(device);
  return argv;
}

}  // namespace snapcell::cli
