#pragma once
// `--backend lvm`: the base is an origin logical volume, named VG/LV. Before
// anything is created, lvs says whether the VG and the LV exist and what the
// LV is; the snapshot mode follows from it (a thin LV gets thin snapshots, a
// plain LV classic ones), and the filesystem the snapshot is mounted as is
// read from the origin's superblock. Every refusal is one line with lvm's own
// message, exit 2, and nothing made.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/linux/lvm_volumes.hpp"
#include "snapcell/names.hpp"

namespace snapcell::cli {

struct LvmBaseName {
  std::string volume_group;
  std::string origin;
};

inline std::string qualified_name(const LvmBaseName& name) { return fmt::format("{}/{}", name.volume_group, name.origin); }
inline std::string device_path(const LvmBaseName& name) { return fmt::format("/dev/{}/{}", name.volume_group, name.origin); }

// "VG/LV" and nothing else: a path, a bare LV name or a third component is
// refused before lvm sees it (validate_lvm_name keeps options out of argv).
inline Result<LvmBaseName> parse_lvm_base(std::string_view base) {
  auto reject = [&](std::string why) { return logic_error("--base", std::string(base), std::move(why)); };
  if (!base.empty() && base.front() == '/')
    return reject("is a path; --backend lvm takes the origin logical volume as VG/LV (e.g. vg0/bookworm)");
  const auto slash = base.find('/');
  if (slash == std::string_view::npos)
    return reject("names no volume group; --backend lvm takes the origin logical volume as VG/LV (e.g. vg0/bookworm)");
  if (base.find('/', slash + 1) != std::string_view::npos) return reject("has more than one '/'; expected VG/LV");
  LvmBaseName name{std::string(base.substr(0, slash)), std::string(base.substr(slash + 1))};
  if (Status vg = linux_sys::validate_lvm_name("volume group", name.volume_group); !vg) return vg.error();
  if (Status lv = linux_sys::validate_lvm_name("origin", name.origin); !lv) return lv.error();
  // Snapshots are named snapcell-<...> (names.hpp): a base among them would be
  // a session's volume, which reap may remove under it.
  if (name.origin.rfind("snapcell-", 0) == 0)
    return reject("is named like snapcell's own snapshots (snapcell-*); an origin must have another name");
  return name;
}

// A size as lvcreate -L takes it, in the forms people write: digits and an
// optional unit (k, m, g, t; lvm's default is m), e.g. 512m or 2g; not zero.
inline Status validate_lvm_size(std::string_view option, std::string_view size) {
  auto reject = [&](std::string why) { return Status{logic_error(std::string(option), std::string(size), std::move(why))}; };
  std::string_view digits = size;
  if (!digits.empty() && std::strchr("kKmMgGtT", digits.back()) != nullptr) digits.remove_suffix(1);
  if (digits.empty() || digits.size() > 12 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return reject("is not a size: digits and an optional unit k, m, g or t (e.g. 512m)");
  if (digits.find_first_not_of('0') == std::string_view::npos) return reject("is zero");
  return {};
}

// The filesystem a block device holds, from its superblock magic; empty when
// none of these. Only filesystems that can be mounted as a snapshot's root.
inline std::string filesystem_of_superblock(std::string_view head) {
  auto at = [&](std::size_t offset, std::string_view magic) {
    return head.size() >= offset + magic.size() && head.substr(offset, magic.size()) == magic;
  };
  if (at(1080, std::string_view("\x53\xEF", 2))) return "ext4";  // ext2/3/4: 0xEF53, little-endian; the ext4 driver mounts all three
  if (at(0, "XFSB")) return "xfs";
  if (at(0x10040, "_BHRfS_M")) return "btrfs";
  return "";
}

// lvm's udev synchronisation only where udev runs (a guest or a container
// without it would wait for cookies that never come).
inline linux_sys::LvmOptions lvm_options_for_this_host() {
  if (::access("/run/udev/control", F_OK) == 0) return {};
  return linux_sys::LvmOptions::without_udev();
}

// What a classic snapshot may take by default: a quarter of the origin, at
// least 32 MiB. A build that writes more invalidates its snapshot, and the
// report says so; --cow-size gives more.
inline std::string default_cow_size(std::uint64_t origin_bytes) {
  const std::uint64_t quarter_kib = origin_bytes / 4 / 1024;
  return fmt::format("{}k", std::max<std::uint64_t>(quarter_kib, 32 * 1024));
}

struct LvmOrigin {
  LvmBaseName name;
  linux_sys::LvmSnapshotMode mode = linux_sys::LvmSnapshotMode::classic;
  std::uint64_t size_bytes = 0;
  std::string fs_type;
};

// Asks lvs about VG/LV and reads the origin's superblock. lvm's message is
// kept word for word: it names the VG or LV that is missing.
inline Result<LvmOrigin> probe_lvm_origin(const LvmBaseName& name, const linux_sys::LvmOptions& lvm) {
  const std::string qualified = qualified_name(name);
  auto listed = linux_sys::run_lvm(lvm, "lvs",
                                   {"--reportformat", "json", "--units", "b", "--nosuffix", "-o",
                                    "vg_name,lv_name,origin,pool_lv,lv_attr,lv_size,lv_kernel_major", qualified},
                                   qualified);
  if (!listed) {
    if (listed.error().operation == "execvpe")
      return Error{"--backend lvm", lvm.program, ENOENT, "the lvm tool is not installed (apt-get install lvm2)"};
    Error error = listed.error();
    error.operation = "--base";
    return error;
  }
  auto records = linux_text::parse_lvs_report(listed->out);
  if (!records) return Error{"--base", qualified, EIO, records.error().message()};
  if (records->size() != 1) return Error{"--base", qualified, ENOENT, "lvs reported no such logical volume"};
  const linux_text::LvRecord& record = records->front();
  // lv_attr's first character is the volume type: '-' plain, 'o' an origin
  // with classic snapshots, 'V' a thin volume; pools, snapshots, mirrors'
  // legs and the rest are not something to build on.
  const char type = record.lv_attr.empty() ? '?' : record.lv_attr[0];
  LvmOrigin origin;
  origin.name = name;
  if (type == 'V' && !record.pool_lv.empty()) {
    origin.mode = linux_sys::LvmSnapshotMode::thin;
  } else if (type == '-' || type == 'o') {
    origin.mode = linux_sys::LvmSnapshotMode::classic;
  } else {
    return Error{"--base", qualified, EINVAL,
                 fmt::format("is not a plain or thin logical volume (lv_attr {}): an origin holds a filesystem", record.lv_attr)};
  }
  if (!record.origin.empty())
    return Error{"--base", qualified, EINVAL, fmt::format("is itself a snapshot of {}: give the origin", record.origin)};
  if (!record.active())
    return Error{"--base", qualified, EINVAL, fmt::format("is not active (lvchange -ay {})", qualified)};
  origin.size_bytes = record.size_bytes.value_or(0);

  const std::string device = device_path(name);
  auto opened = linux_sys::open_fd(device, O_RDONLY | O_CLOEXEC);
  if (!opened) {
    Error error = opened.error();
    error.operation = "--base";
    return error;
  }
  std::string head(0x10040 + 8, '\0');
  const ssize_t got = ::pread(opened->get(), head.data(), head.size(), 0);
  if (got < 0) return Error{"--base", device, errno, "cannot read the superblock"};
  head.resize(static_cast<std::size_t>(got));
  origin.fs_type = filesystem_of_superblock(head);
  if (origin.fs_type.empty())
    return Error{"--base", qualified, EINVAL, "holds no ext2/3/4, xfs or btrfs filesystem (snapcell base create --backend lvm makes one)"};
  return origin;
}

// What the sessions' volume manager is told about a probed origin: its VG,
// the snapshot mode the origin calls for, and for classic snapshots their
// COW space (`cow_size`, or the default for the origin's size).
inline linux_sys::LvmConfig session_lvm_config(const LvmOrigin& origin, const std::string& cow_size,
                                               const linux_sys::LvmOptions& lvm) {
  linux_sys::LvmConfig config{origin.name.volume_group, origin.mode, "", origin.fs_type, lvm};
  if (origin.mode == linux_sys::LvmSnapshotMode::classic)
    config.classic_size = cow_size.empty() ? default_cow_size(origin.size_bytes) : cow_size;
  return config;
}

}  // namespace snapcell::cli
