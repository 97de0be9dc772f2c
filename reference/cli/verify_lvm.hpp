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
#include "snapcell/error.hpp"
#include "snapcell/linux/lvm_command.hpp"
#include "snapcell/linux/sys.hpp"
#include "cli/state.hpp"
#include "snapcell/linux/lvm_report.hpp"

namespace snapcell::cli {

inline constexpr const char* verify_origin_tag = "snapcell-verify";
// Room for the busybox base and the adversaries (a few MiB), well below the
// per-session disk cap: a fill stops at this filesystem's end.
inline constexpr const char* verify_origin_size = "96m";

// Before verify makes anything: the VG (and the thin pool) it was told to
// make its origin in exist, in lvm's words when they do not.
inline Status check_verify_volume_group(const std::string& vg, const std::string& thin_pool) {
  auto volumes = list_volume_group(lvm_options_for_this_host(), vg);
  if (!volumes) {
    Error error = volumes.error();
    error.operation = "--vg";
    return error;
  }
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
    std::vector<std::string> args{"-y", "--addtag", verify_origin_tag, "-n", origin->name_.origin};
    if (thin_pool.empty()) args.insert(args.end(), {"-L", verify_origin_size, vg});
    else args.insert(args.end(), {"-V", verify_origin_size, "-T", fmt::format("{}/{}", vg, thin_pool)});
    auto created = linux_sys::run_lvm(origin->lvm_, "lvcreate", args, origin->qualified());
    if (!created) return created.error();
    origin->made_ = true;
    auto filled = linux_sys::run_capturing({"mke2fs", "-q", "-F", "-t", "ext4", "-L", "snapcell-verify", "-d", tree,
                                            origin->device()});
    if (!filled) return filled.error();
    if (filled->exit_code != 0)
      return Error{"mke2fs -d", origin->device(), EIO, linux_sys::one_line(filled->err.empty() ? filled->out : filled->err)};
    if (Status viewed = origin->mount_view(); !viewed) return viewed.error();
    return origin;
  }

  // The user's origin VG/LV, only viewed.
  static Result<std::unique_ptr<VerifyLvmOrigin>> view(const std::string& base, const std::string& view) {
    auto name = parse_lvm_base(base);
    if (!name) return name.error();
    std::unique_ptr<VerifyLvmOrigin> origin(new VerifyLvmOrigin(*name, view));
    if (Status viewed = origin->mount_view(); !viewed) return viewed.error();
    return origin;
  }

  std::string qualified() const { return fmt::format("{}/{}", name_.volume_group, name_.origin); }
  const std::string& view_dir() const { return view_; }

  // The session snapshots now in the VG (snapcell-*): a verify session's
  // leftover volume shows as a new name here.
  std::set<std::string> snapshots() const {
    std::set<std::string> names;
    auto listed = linux_sys::run_lvm(lvm_, "lvs", {"--reportformat", "json", "-o", "lv_name", name_.volume_group},
                                     name_.volume_group);
    if (!listed) return {"(lvs failed: " + listed.error().message() + ")"};
    auto records = linux_text::parse_lvs_report(listed->out);
    if (!records) return {"(lvs unreadable: " + records.error().message() + ")"};
    for (const auto& record : *records)
      if (record.lv_name.rfind("snapcell-", 0) == 0) names.insert(record.lv_name);
    return names;
  }

 private:
  VerifyLvmOrigin(LvmBaseName name, std::string view)
      : name_(std::move(name)), view_(std::move(view)), lvm_(lvm_options_for_this_host()) {}

  std::string device() const { return fmt::format("/dev/{}/{}", name_.volume_group, name_.origin); }

  // Read-only, and for ext* without replaying a journal: looking must not write.
  Status mount_view() {
    auto origin = probe_lvm_origin(name_, lvm_);
    if (!origin) return origin.error();
    if (Status made = make_dir_if_missing(view_, 0755); !made) return made;
    const char* data = origin->fs_type.rfind("ext", 0) == 0 ? "noload" : nullptr;
    if (::mount(device().c_str(), view_.c_str(), origin->fs_type.c_str(), MS_RDONLY | MS_NODEV | MS_NOSUID, data) != 0)
      return errno_error("mount read-only", device());
    mounted_ = true;
    return {};
  }

  LvmBaseName name_;
  std::string view_;
  linux_sys::LvmOptions lvm_;
  bool made_ = false;
  bool mounted_ = false;
};

}  // namespace snapcell::cli
