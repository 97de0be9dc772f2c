#pragma once
// Snapshots as LVM logical volumes, made and removed by the lvm tool
// (lvm_command.hpp: fixed argv, never a shell) and listed from
// `lvs --reportformat json` (lvm_report.hpp). Needs nlohmann-json (header
// only) besides std and fmt; see lvm_report.hpp.
//
// Two modes, one volume group per manager:
//   classic  `lvcreate -s -L SIZE -n NAME VG/ORIGIN`: a COW snapshot of a
//            plain LV. It is invalidated when the build writes more than SIZE.
//   thin     `lvcreate -s -K -n NAME VG/ORIGIN`: a thin snapshot of a thin LV
//            in a pool; no size, the pool's free data space is the limit. Thin
//            snapshots are created with the activation-skip flag, and -K
//            (--ignoreactivationskip) activates this one anyway.
// Removal is `lvremove -f VG/NAME` in both, so reap (kind "lvm") removes
// either without knowing which mode made it.
//
// Names: a snapshot's name is the session's volume name (names.hpp's
// convention, validate_volume_name); an origin is an LV name in the same VG,
// given bare (`base`, not `vg/base`) because lvs reports origins that way and
// the core compares the two. The mount source is /dev/VG/NAME, which
// mountinfo shows as given: it proves a mount is the session's own.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/linux/lvm_command.hpp"
#include "snapcell/linux/lvm_report.hpp"
#include "snapcell/linux/tree.hpp"
#include "snapcell/names.hpp"
#include "snapcell/policies.hpp"

namespace snapcell::linux_sys {

enum class LvmSnapshotMode { classic, thin };

struct LvmConfig {
  std::string volume_group;
  LvmSnapshotMode mode = LvmSnapshotMode::classic;
  std::string classic_size = "64m";  // COW space of a classic snapshot (lvcreate -L)
  std::string fs_type = "ext4";      // what the origin holds
  LvmOptions lvm;
};

// lvm's own rule for VG and LV names: [a-zA-Z0-9+_.-], not starting with
// '-', not "." or "..", at most 127 characters. Checked before lvm sees them,
// so that no name can become an option.
inline Status validate_lvm_name(std::string_view what, std::string_view name) {
  auto reject = [&](std::string_view why) {
    return Status{logic_error(fmt::format("validate {}", what), std::string(name), std::string(why))};
  };
  if (name.empty()) return reject("is empty");
  if (name.size() > 127) return reject("is longer than 127 characters");
  if (name.front() == '-') return reject("must not start with '-'");
  if (name == "." || name == "..") return reject("is '.' or '..'");
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return reject("may hold only a-z, A-Z, 0-9, '+', '_', '.' and '-'");
  }
  return {};
}

class LvmVolumes {
 public:
  static constexpr std::string_view kind = "lvm";  // recorded in the journal: reap must run the same

  // The fields lvs is asked for, in every listing.
  static constexpr const char* report_fields =
      "vg_name,lv_name,origin,pool_lv,lv_attr,data_percent,lv_kernel_major,lv_kernel_minor";

  // Throws Failure for an invalid volume group name.
  explicit LvmVolumes(LvmConfig config) : config_(std::move(config)) {
    validate_lvm_name("volume group", config_.volume_group).or_throw();
    if (config_.mode == LvmSnapshotMode::classic && config_.classic_size.empty())
      throw Failure(logic_error("validate classic snapshot size", "", "is empty"));
  }

  const LvmConfig& config() const { return config_; }
  std::string device_path(const std::string& name) const { return fmt::format("/dev/{}/{}", config_.volume_group, name); }
  std::string qualified(const std::string& name) const { return fmt::format("{}/{}", config_.volume_group, name); }

  Result<MountSpec> snapshot(const std::string& origin, const std::string& name) {
    if (Status valid = validate_volume_name(name); !valid) return valid.error();
    if (Status valid = validate_lvm_name("origin", origin); !valid) return valid.error();
    std::vector<std::string> args{"-s"};
    if (config_.mode == LvmSnapshotMode::classic) {
      args.insert(args.end(), {"-L", config_.classic_size});
    } else {
      args.push_back("-K");
    }
    args.insert(args.end(), {"-n", name, qualified(origin)});
    auto created = run_lvm(config_.lvm, "lvcreate", args, qualified(name));
    if (!created) return created.error();
    return spec_for(name);
  }

  // Refuses (EBUSY) while mountinfo shows the LV's device mounted; lvremove
  // would refuse an open LV too, but this names where it is mounted.
  Status remove(const std::string& name) {
    if (Status valid = validate_volume_name(name); !valid) return valid;
    auto records = report(name);
    if (!records) return records.error();
    if (records->empty()) return Error{"remove volume", qualified(name), ENOENT, "no such logical volume"};
    const auto& record = records->front();
    if (record.kernel_major && record.kernel_minor) {
      auto mounts = read_mountinfo();
      if (!mounts) return mounts.error();
      for (const auto& entry : *mounts)
        if (entry.major == static_cast<unsigned>(*record.kernel_major) &&
            entry.minor == static_cast<unsigned>(*record.kernel_minor))
          return Error{"remove volume", qualified(name), EBUSY, fmt::format("mounted at {}", entry.mount_point)};
    }
    auto removed = run_lvm(config_.lvm, "lvremove", {"-f", qualified(name)}, qualified(name));
    if (!removed) return removed.error();
    return {};
  }

  Result<std::vector<VolumeInfo>> list(const std::string& prefix) {
    auto records = report("");
    if (!records) return records.error();
    std::vector<VolumeInfo> listed;
    for (const auto& record : *records) {
      if (record.vg_name != config_.volume_group) continue;
      if (record.lv_name.rfind(prefix, 0) != 0 || !validate_volume_name(record.lv_name)) continue;
      listed.push_back({record.lv_name, record.origin});
    }
    return listed;
  }

  Result<MountSpec> mount_spec(const std::string& name) {
    if (Status valid = validate_volume_name(name); !valid) return valid.error();
    auto records = report(name);
    if (!records) return records.error();
    if (records->empty()) return Error{"open volume", qualified(name), ENOENT, "no such logical volume"};
    return spec_for(name);
  }

  // lvs of the whole VG (name empty) or of one LV; an absent LV is an empty
  // list, not an error.
  Result<std::vector<linux_text::LvRecord>> report(const std::string& name) {
    const std::string target = name.empty() ? config_.volume_group : qualified(name);
    auto listed = run_lvm(config_.lvm, "lvs", {"--reportformat", "json", "-o", report_fields, target}, target);
    if (!listed) {
      if (!name.empty() && listed.code() == ENOENT && listed.error().detail.find(qualified(name)) != std::string::npos)
        return std::vector<linux_text::LvRecord>{};
      return listed.error();
    }
    auto parsed = linux_text::parse_lvs_report(listed->out);
    if (!parsed) return Error{"lvs", target, EIO, parsed.error().message()};
    return parsed;
  }

 private:
  MountSpec spec_for(const std::string& name) const { return MountSpec{device_path(name), config_.fs_type, "", "/"}; }

  LvmConfig config_;
};

static_assert(VolumeManager<LvmVolumes>);

}  // namespace snapcell::linux_sys
