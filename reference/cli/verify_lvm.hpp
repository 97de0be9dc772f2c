#pragma once
// `snapcell verify --backend lvm`: the origin LV its sessions snapshot, and a
// read-only view of that origin for the checks that read the base (is the
// technique's program there, did the base change).
//
// With --vg, verify makes the origin itself: verify-base-<pid> (not
// snapcell-*, which names session snapshots that reap may remove), tagged
// snapcell-verify, filled from verify's busybox base by `mke2fs -d` (no
// mount needed), and removes it at the end, that LV and nothing else. With
// --base VG/LV it only views the user's origin.

#include <sys/mount.h>
#include <unistd.h>

#include <memory>
#include <set>
#include <string>

#include <fmt/format.h>

#include "cli/base_store.hpp"
#include "cli/lvm_base.hpp"
#include "cli/lvm_origin_lv.hpp"
#include "cli/state.hpp"
#include "snapcell/error.hpp"
#include "snapcell/linux/lvm_command.hpp"
#include "snapcell/linux/sys.hpp"

namespace snapcell::cli {

inline constexpr const char* verify_origin_tag = "snapcell-verify";
// Room for the busybox base and the adversaries (a few MiB), well below the
// per-session disk cap: a fill stops at this filesystem's end.
inline constexpr const char* verify_origin_size = "96m";

// Before verify makes anything: the VG (and the thin pool) it was told to
// make its origin in exist, in lvm's words when they do not.
inline Status check_verify_volume_group(const std::string& vg, const std::string& thin_pool) {
  auto volumes = list_volume_group_of_option(vg);
  if (!volumes) return volumes.error();
  if (!thin_pool.empty()) return check_thin_pool(*volumes, vg, thin_pool);
  return {};
}

class VerifyLvmOrigin {
 public:
  VerifyLvmOrigin(const VerifyLvmOrigin&) = delete;
  VerifyLvmOrigin& operator=(const VerifyLvmOrigin&) = delete;
  ~VerifyLvmOrigin() {
    if (mounted_) (void)::umount2(view_.c_str(), 0);
    if (made_) (void)linux_sys::run_lvm(lvm_, "lvremove", {"-f", qualified()}, qualified());
  }

  // An origin of verify's own in `vg` (thin in `thin_pool` when given),
  // holding the tree at `tree`, viewed at `view`.
  static Result<std::unique_ptr<VerifyLvmOrigin>> make(const std::string& vg, const std::string& thin_pool,
                                                       const std::string& tree, const std::string& view) {
    std::unique_ptr<VerifyLvmOrigin> origin(
        new VerifyLvmOrigin(LvmBaseName{vg, fmt::format("verify-base-{}", ::getpid())}, view));
    if (Status created = create_origin_lv(origin->lvm_, {origin->name_, thin_pool, verify_origin_size, verify_origin_tag}); !created)
      return created.error();
    origin->made_ = true;
    const std::string device = device_path(origin->name_);
    auto filled = linux_sys::run_capturing(mke2fs_argv(device, tree));
    if (!filled) return filled.error();
    if (filled->exit_code != 0)
      return Error{"mke2fs -d", device, EIO, linux_sys::one_line(filled->err.empty() ? filled->out : filled->err)};
    if (Status viewed = origin->probe_and_view(); !viewed) return viewed.error();
    return origin;
  }

  // The user's origin VG/LV, only viewed.
  static Result<std::unique_ptr<VerifyLvmOrigin>> view(const std::string& base, const std::string& view) {
    auto name = parse_lvm_base(base);
    if (!name) return name.error();
    std::unique_ptr<VerifyLvmOrigin> origin(new VerifyLvmOrigin(*name, view));
    if (Status viewed = origin->probe_and_view(); !viewed) return viewed.error();
    return origin;
  }

  std::string qualified() const { return qualified_name(name_); }
  const std::string& view_dir() const { return view_; }
  // What the sessions' volume manager is told, from the probe the view was
  // mounted after (lvs and the superblock are asked once per verify run).
  linux_sys::LvmConfig session_config(const std::string& cow_size) const { return session_lvm_config(probed_, cow_size, lvm_); }

  // The session snapshots now in the VG (snapcell-*): a verify session's
  // leftover volume shows as a new name here.
  std::set<std::string> snapshots() const {
    auto volumes = list_volume_group(lvm_, name_.volume_group);
    if (!volumes) return {"(lvs failed: " + volumes.error().message() + ")"};
    std::set<std::string> names;
    for (const auto& volume : *volumes)
      if (volume.name.rfind("snapcell-", 0) == 0) names.insert(volume.name);
    return names;
  }

 private:
  VerifyLvmOrigin(LvmBaseName name, std::string view)
      : name_(std::move(name)), view_(std::move(view)), lvm_(lvm_options_for_this_host()) {}

  // Read-only, and for ext* without replaying a journal: looking must not write.
  Status probe_and_view() {
    auto origin = probe_lvm_origin(name_, lvm_);
    if (!origin) return origin.error();
    probed_ = *origin;
    if (Status made = make_dir_if_missing(view_, 0755); !made) return made;
    const std::string device = device_path(name_);
    const char* data = probed_.fs_type.rfind("ext", 0) == 0 ? "noload" : nullptr;
    if (::mount(device.c_str(), view_.c_str(), probed_.fs_type.c_str(), MS_RDONLY | MS_NODEV | MS_NOSUID, data) != 0)
      return errno_error("mount read-only", device);
    mounted_ = true;
    return {};
  }

  LvmBaseName name_;
  std::string view_;
  linux_sys::LvmOptions lvm_;
  LvmOrigin probed_;
  bool made_ = false;
  bool mounted_ = false;
};

}  // namespace snapcell::cli
