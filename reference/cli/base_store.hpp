#pragma once
// Named bases: the chroots builds are snapshotted from. One directory each
// under the bases dir: `root/` (the tree; a btrfs subvolume for the btrfs
// backend; an lvm base has none: its tree is an origin LV, VG/LV, which
// base.json's "root" names), `base.json` (how and when it was made, and how
// long that took: the "chroot from scratch" figure a build's turnaround is
// compared with), `create.log`, and `lock` (a build holds it shared; `base
// rm` needs it exclusive, so a base in use is never removed under a build).

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/lvm_base.hpp"
#include "snapcell/error.hpp"
#include "snapcell/linux/btrfs_volumes.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/linux/mountinfo.hpp"
#include "snapcell/linux/numbers.hpp"
#include "snapcell/linux/sys.hpp"
#include "snapcell/linux/tree.hpp"
#include "snapcell/names.hpp"

namespace snapcell::cli {

inline constexpr long btrfs_magic = 0x9123683e;

struct BaseInfo {
  std::string name;
  std::string backend;  // overlay (a plain directory), btrfs (a subvolume) or lvm (an origin LV)
  std::string source;   // "debootstrap <suite> <mirror>" or "import <dir>"
  std::string created_at;
  double creation_seconds = 0;
  std::string root;     // the tree builds snapshot: a directory, or for lvm "VG/LV" (what --backend lvm --base takes)
  std::string suite;    // the Debian suite debootstrap made it from; empty for an import
  std::vector<std::string> extra_packages;  // --include, beyond what every builder base has
};

// Lower case letters, digits, '.', '_', '-'; a letter or digit first; at most
// 64: a name becomes a directory and shows in reports, nothing to escape.
inline Status validate_base_name(std::string_view name) {
  const auto bad = [&](std::string why) { return Status{logic_error("base name", std::string(name), std::move(why))}; };
  if (name.empty() || name.size() > 64) return bad("must be 1 to 64 characters");
  if (!(std::isalnum(static_cast<unsigned char>(name[0])) && !std::isupper(static_cast<unsigned char>(name[0]))))
    return bad("must start with a lower-case letter or a digit");
  for (unsigned char c : name)
    if (!(std::islower(c) || std::isdigit(c) || c == '.' || c == '_' || c == '-'))
      return bad("may hold only a-z, 0-9, '.', '_' and '-'");
  return {};
}

inline nlohmann::json to_json(const BaseInfo& info) {
  return {{"name", info.name},         {"backend", info.backend},
          {"source", info.source},     {"created_at", info.created_at},
          {"creation_seconds", info.creation_seconds}, {"root", info.root},
          {"suite", info.suite},       {"extra_packages", info.extra_packages}};
}

// ---- lvm bases: the origin LV ----------------------------------------------------

// The tag `base create --backend lvm` puts on the LVs it makes: `base rm`
// removes only an LV that carries it, never one it did not make.
inline constexpr const char* lvm_base_tag = "snapcell-base";

// One LV of a VG, as base create and base rm need it.
struct LvmVolumeEntry {
  std::string name;
  std::string origin;  // the LV it is a snapshot of; empty for anything else
  std::string attr;    // lv_attr: the first character is the type ('t' a thin pool)
  std::vector<std::string> tags;
};

// `lvs` of a whole VG, as text: '|' is in no LV name and no tag, so the
// fields split cleanly. A missing VG is lvm's own message (ENOENT).
inline Result<std::vector<LvmVolumeEntry>> list_volume_group(const linux_sys::LvmOptions& lvm, const std::string& group) {
  auto listed = linux_sys::run_lvm(lvm, "lvs", {"--noheadings", "--separator", "|", "-o", "lv_name,origin,lv_attr,lv_tags", group},
                                   group);
  if (!listed) {
    if (listed.error().operation == "execvpe")
      return Error{"--backend lvm", lvm.program, ENOENT, "the lvm tool is not installed (apt-get install lvm2)"};
    return listed.error();
  }
  std::vector<LvmVolumeEntry> volumes;
  for (const auto raw : linux_text::split(listed->out, '\n')) {
    const auto first = raw.find_first_not_of(" \t");
    if (first == std::string_view::npos) continue;
    const auto fields = linux_text::split(raw.substr(first), '|');
    if (fields.size() != 4) return Error{"lvs", group, EIO, fmt::format("unexpected line: {}", raw)};
    LvmVolumeEntry entry{std::string(fields[0]), std::string(fields[1]), std::string(fields[2]), {}};
    for (const auto tag : linux_text::split(fields[3], ','))
      if (!tag.empty()) entry.tags.emplace_back(tag);
    volumes.push_back(std::move(entry));
  }
  return volumes;
}

// The VG given as --vg (base create, verify), listed; when it cannot be,
// the error is --vg's, in lvm's words.
inline Result<std::vector<LvmVolumeEntry>> list_volume_group_of_option(const std::string& group) {
  auto volumes = list_volume_group(lvm_options_for_this_host(), group);
  if (!volumes) {
    Error error = volumes.error();
    error.operation = "--vg";
    return error;
  }
  return volumes;
}

// `pool`, given as --thin-pool, is a thin pool among a VG's `volumes`.
inline Status check_thin_pool(const std::vector<LvmVolumeEntry>& volumes, const std::string& group, const std::string& pool) {
  const auto found = std::find_if(volumes.begin(), volumes.end(), [&](const LvmVolumeEntry& v) { return v.name == pool; });
  if (found == volumes.end()) return Error{"--thin-pool", pool, ENOENT, fmt::format("no such logical volume in {}", group)};
  if (found->attr.empty() || found->attr[0] != 't')
    return Error{"--thin-pool", pool, EINVAL,
                 fmt::format("is not a thin pool (lv_attr {}); lvcreate --type thin-pool makes one", found->attr)};
  return {};
}

// The origin LV of an lvm base, removed only when it is provably ours (the
// tag) and no snapshot of it remains (a session's, or anyone's: removing the
// origin would take them with it). An LV already gone leaves nothing to do.
inline Status remove_lvm_origin(const std::string& base, const std::string& root) {
  auto name = parse_lvm_base(root);
  if (!name) return name.error();
  const auto lvm = lvm_options_for_this_host();
  auto volumes = list_volume_group(lvm, name->volume_group);
  if (!volumes) return volumes.error();
  const auto origin = std::find_if(volumes->begin(), volumes->end(), [&](const auto& v) { return v.name == name->origin; });
  if (origin == volumes->end()) return {};
  for (const auto& volume : *volumes)
    if (volume.origin == name->origin)
      return logic_error("base rm", base,
                         fmt::format("{} is a snapshot of its origin {}: remove it first (snapcell reap, or lvremove)",
                                     qualified_name({name->volume_group, volume.name}), root));
  if (std::find(origin->tags.begin(), origin->tags.end(), lvm_base_tag) == origin->tags.end())
    return logic_error("base rm", base,
                       fmt::format("{} has no {} tag: snapcell did not make it, and does not remove it", root, lvm_base_tag));
  auto removed = linux_sys::run_lvm(lvm, "lvremove", {"-y", root}, root);
  if (!removed) return removed.error();
  return {};
}

class BaseStore {
 public:
  explicit BaseStore(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }
  std::string path_of(const std::string& name) const { return join_path(dir_, name); }

  Result<BaseInfo> find(const std::string& name) const {
    if (Status valid = validate_base_name(name); !valid) return valid.error();
    const std::string meta = join_path(path_of(name), "base.json");
    auto text = linux_sys::read_file(meta);
    if (!text) {
      if (text.code() == ENOENT) return Error{"find base", name, ENOENT, fmt::format("no such base in {}", dir_)};
      return text.error();
    }
    try {
      const auto json = nlohmann::json::parse(*text);
      BaseInfo info;
      info.name = json.at("name").get<std::string>();
      info.backend = json.at("backend").get<std::string>();
      info.source = json.at("source").get<std::string>();
      info.created_at = json.at("created_at").get<std::string>();
      info.creation_seconds = json.at("creation_seconds").get<double>();
      if (Status root = read_root(json, name, info); !root) return root.error();
      info.suite = json.value("suite", std::string());  // bases made before these fields have neither
      info.extra_packages = json.value("extra_packages", std::vector<std::string>());
      return info;
    } catch (const nlohmann::json::exception& error) {
      return logic_error("read base", meta, error.what());
    }
  }

  Result<std::vector<BaseInfo>> list() const {
    std::vector<BaseInfo> bases;
    auto dir = linux_sys::open_fd(dir_, O_RDONLY | O_DIRECTORY);
    if (!dir) return dir.code() == ENOENT ? Result<std::vector<BaseInfo>>(bases) : Result<std::vector<BaseInfo>>(dir.error());
    auto names = linux_sys::list_names_at(dir->get(), dir_);
    if (!names) return names.error();
    for (const auto& name : *names) {
      if (!validate_base_name(name)) continue;  // a partial creation, or not ours
      auto info = find(name);
      if (info) bases.push_back(*info);
    }
    return bases;
  }

  // A directory base's tree is always root/ beside the record (records
  // written before lvm bases have a "root" that is not read); an lvm base's
  // is the origin the record names, checked as --base VG/LV would be.
  Status read_root(const nlohmann::json& json, const std::string& name, BaseInfo& info) const {
    if (info.backend != "lvm") {
      info.root = join_path(path_of(name), "root");
      return {};
    }
    info.root = json.at("root").get<std::string>();
    if (auto origin = parse_lvm_base(info.root); !origin)
      return logic_error("read base", join_path(path_of(name), "base.json"), origin.error().message());
    return {};
  }

  // Held shared by every build of the base, for the build's whole life.
  Result<linux_sys::UniqueFd> hold(const std::string& name, bool exclusive) const {
    auto lock = linux_sys::open_fd(join_path(path_of(name), "lock"), O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
    if (!lock) return lock.error();
    if (::flock(lock->get(), (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) return Error{"lock base", name, EBUSY, "a build is using it"};
      return errno_error("flock", join_path(path_of(name), "lock"));
    }
    return lock;
  }

  // Removes a base no build holds, whose tree carries no session's snapshot.
  Status remove(const std::string& name) const {
    auto info = find(name);
    if (!info) return info.status();
    auto held = hold(name, /*exclusive=*/true);
    if (!held) return held.status();
    auto base_dir = linux_sys::open_fd(path_of(name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!base_dir) return base_dir.status();
    if (auto names = linux_sys::list_names_at(base_dir->get(), path_of(name)); names)
      for (const auto& entry : *names)
        if (is_session_name("snapcell", entry))  // a btrfs snapshot beside the base: a session not yet reaped
          return logic_error("base rm", name, fmt::format("session {} still has a snapshot here; run snapcell reap", entry));
    if (auto text = linux_sys::read_file("/proc/self/mountinfo"); text)
      if (auto mounts = linux_text::parse_mountinfo(*text); mounts)
        for (const auto& mount : *mounts)
          if (mount.fs_type == "overlay" && mount.super_options.find("lowerdir=" + info->root) != std::string::npos)
            return logic_error("base rm", name,
                               fmt::format("an overlay at {} still uses it; run snapcell reap", mount.mount_point));
    if (info->backend == "lvm")
      if (Status removed = remove_lvm_origin(name, info->root); !removed) return removed;
    if (info->backend == "btrfs") {
      // The subvolume's content goes first: destroying a non-empty subvolume
      // needs privileges the removal should not lean on.
      if (Status destroyed = linux_sys::btrfs::destroy_subvolume(base_dir->get(), "root", info->root); !destroyed)
        return destroyed;
    }
    auto parent = linux_sys::open_fd(dir_, O_RDONLY | O_DIRECTORY);
    if (!parent) return parent.status();
    return linux_sys::remove_tree_at(parent->get(), name);
  }

  // The bases dir; made if missing. btrfs bases need it on btrfs.
  Status prepare(const std::string& backend) const {
    std::error_code made;  // /var/lib/snapcell may not exist yet on a fresh machine
    std::filesystem::create_directories(dir_, made);
    if (made) return Error{"mkdir", dir_, made.value(), ""};
    if (backend != "btrfs") return {};
    struct statfs fs {};
    if (::statfs(dir_.c_str(), &fs) != 0) return errno_error("statfs", dir_);
    if (fs.f_type != btrfs_magic)
      return logic_error("--bases-dir", dir_, "is not on btrfs; a btrfs base needs its bases dir on a btrfs filesystem");
    return {};
  }

 private:
  std::string dir_;
};

}  // namespace snapcell::cli
