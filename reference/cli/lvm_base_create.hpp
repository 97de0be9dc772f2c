#pragma once
// `snapcell base create NAME --backend lvm --vg VG [--thin-pool POOL]
// [--size S]`: the base is an origin LV, VG/NAME, holding an ext4
// filesystem: filled by `mke2fs -d DIR` for --from DIR (no mount needed), or
// made empty, mounted on a private directory and debootstrapped into.
//
// The LV is named after the base, never snapcell-*: that namespace is the
// sessions' snapshots, which reap may remove. It carries the snapcell-base
// tag, the proof `base rm` asks for before it removes an LV. The record
// (base.json, "root": "VG/NAME") is written into a partial directory of the
// store and renamed into place last, as for the other backends; on any
// failure after lvcreate, the LV this run made (and nothing else) is
// removed, and no record is left.

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/base_create.hpp"
#include "cli/base_store.hpp"
#include "cli/lvm_base.hpp"
#include "cli/lvm_origin_lv.hpp"
#include "cli/progress.hpp"
#include "snapcell/linux/lvm_command.hpp"
#include "snapcell/linux/scratch_tmpfs.hpp"

namespace snapcell::cli {

// debootstrap's minbase with the builder packages is about 600 MiB; room
// for what builds install into a snapshot comes on top.
inline constexpr const char* default_debootstrapped_lvm_size = "2g";

inline LvmBaseName lvm_base_name(const BaseCreateOptions& options) { return {options.volume_group, options.name}; }
inline std::string lvm_qualified(const BaseCreateOptions& options) { return qualified_name(lvm_base_name(options)); }

// Refusals before anything is made (bad input, exit 2): the VG exists (lvm's
// own words if not), no LV in it has the base's name, and the pool, if one
// is given, is a thin pool of that VG.
inline Status check_lvm_base_target(const BaseCreateOptions& options) {
  auto volumes = list_volume_group_of_option(options.volume_group);
  if (!volumes) return volumes.error();
  auto named = [&](const std::string& name) {
    return std::find_if(volumes->begin(), volumes->end(), [&](const LvmVolumeEntry& v) { return v.name == name; });
  };
  if (named(options.name) != volumes->end())
    return Error{"base create", options.name, EEXIST,
                 fmt::format("logical volume {} already exists; an lvm base is an LV of its own name", lvm_qualified(options))};
  if (!options.thin_pool.empty()) return check_thin_pool(*volumes, options.volume_group, options.thin_pool);
  return {};
}

// What a tree takes, generously: every file rounded up to 4 KiB blocks and
// every inode a block of its own (directories, links, devices).
inline Result<std::uint64_t> tree_bytes(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code error;
  std::uint64_t total = 0;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, error);
  for (; !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    const auto status = it->symlink_status(error);
    if (error) break;
    std::uint64_t bytes = 4096;
    if (fs::is_regular_file(status)) bytes += (it->file_size(error) + 4095) / 4096 * 4096;
    if (error) break;
    total += bytes;
  }
  if (error) return Error{"--from", dir, error.value(), "cannot measure the tree"};
  return total;
}

// --size, or the default: 2g for debootstrap; for an import, the tree's
// size × 1.5 + 64 MiB (ext4's journal and inode tables, and room to write),
// in whole MiB.
inline Result<std::string> lvm_base_size(const BaseCreateOptions& options) {
  if (!options.size.empty()) return options.size;
  if (options.from.empty()) return std::string(default_debootstrapped_lvm_size);
  auto bytes = tree_bytes(options.from);
  if (!bytes) return bytes.error();
  constexpr std::uint64_t mib = 1024 * 1024;
  return fmt::format("{}m", (*bytes + *bytes / 2 + mib - 1) / mib + 64);
}

// debootstrap into the LV: an empty ext4 mounted on `mount_point` (in the
// partial directory, mode 0700: no one else walks into a half-made tree),
// unmounted again before the base is published. On failure the caller's
// cleanup unmounts whatever is left below the partial directory.
inline Result<std::string> debootstrap_into_lv(const BaseCreateOptions& options, const std::string& device,
                                              const std::string& mount_point, const std::string& log_dir,
                                              std::ostream& log, Progress& progress) {
  if (Status made = detail::run_filler(options.name, mke2fs_argv(device, ""), log, progress); !made) return made.error();
  if (::mkdir(mount_point.c_str(), 0700) != 0) return errno_error("mkdir", mount_point);
  if (::mount(device.c_str(), mount_point.c_str(), "ext4", MS_NOSUID | MS_NODEV, nullptr) != 0)
    return errno_error("mount(ext4)", device);
  auto debootstrap = detail::debootstrap_filler(options, mount_point, log_dir, progress);
  if (Status filled = detail::run_filler(options.name, debootstrap.argv, log, progress); !filled) return filled.error();
  detail::drop_package_cache(mount_point);
  linux_sys::unmount_all_below(mount_point, /*include_dir=*/false);  // debootstrap's /proc and /sys, if it left them
  if (::umount2(mount_point.c_str(), UMOUNT_NOFOLLOW) != 0) return errno_error("umount2", mount_point);
  if (::rmdir(mount_point.c_str()) != 0) return errno_error("rmdir", mount_point);  // the record holds no tree
  return debootstrap.source;
}

// Makes the LV and fills it; the record's "source", or the error (the LV
// then still exists: the caller removes it).
inline Result<std::string> fill_lvm_base(const BaseCreateOptions& options, const std::string& device, const std::string& partial,
                                         const std::string& log_dir, std::ostream& log, Progress& progress) {
  if (options.from.empty())
    return debootstrap_into_lv(options, device, join_path(partial, "mnt"), log_dir, log, progress);
  progress.note(fmt::format("mke2fs -d {} on {}", options.from, device));
  if (Status filled = detail::run_filler(options.name, mke2fs_argv(device, options.from), log, progress); !filled)
    return filled.error();
  return "import " + options.from;
}

// Makes the lvm base; its BaseInfo, or the error with nothing left: no LV
// this run made, no record. check_lvm_base_target has passed.
inline Result<BaseInfo> create_lvm_base(const BaseStore& store, const BaseCreateOptions& options) {
  if (Status prepared = store.prepare(options.backend); !prepared) return prepared.error();
  auto size = lvm_base_size(options);
  if (!size) return size.error();
  const auto lvm = lvm_options_for_this_host();
  const std::string qualified = lvm_qualified(options);

  // Not a valid base name (the "+"): never listed or found as a base.
  const std::string partial_name = fmt::format("{}+partial-{}", options.name, ::getpid());
  const std::string partial = join_path(store.dir(), partial_name);
  if (::mkdir(partial.c_str(), 0755) != 0) return errno_error("mkdir", partial);
  bool lv_made = false;
  auto fail = [&](Error error) -> Result<BaseInfo> {
    // The partial directory first: it unmounts the LV if debootstrap had it mounted.
    if (Status removed = detail::remove_partial(store, partial_name, options.backend); !removed)
      error.detail += fmt::format("; the partial base {} could not be removed: {}", partial, removed.error().message());
    if (lv_made)  // made by this run under this name a moment ago: ours, whatever its tag says
      if (auto removed = linux_sys::run_lvm(lvm, "lvremove", {"-y", qualified}, qualified); !removed)
        error.detail += fmt::format("; the logical volume {} it made could not be removed: {}", qualified, removed.error().message());
    return error;
  };

  std::ofstream log(join_path(partial, "create.log"));
  Progress progress(fmt::format("base create {}", options.name));
  progress.note(fmt::format("lvcreate {} {} ({})", qualified, *size,
                            options.thin_pool.empty() ? "classic" : "thin in " + options.thin_pool));
  if (Status created = create_origin_lv(lvm, {lvm_base_name(options), options.thin_pool, *size, lvm_base_tag}); !created)
    return fail(created.error());
  lv_made = true;
  const std::string device = device_path(lvm_base_name(options));
  auto source = fill_lvm_base(options, device, partial, join_path(store.dir(), options.name), log, progress);
  if (!source) return fail(source.error());
  if (interrupted())  // a signal after the program ended: still no base that looks usable
    return fail(detail::interrupted_error(options.name));

  const BaseInfo info = detail::made_base_info(options, *source, progress.elapsed_seconds(), qualified);
  log.close();
  if (Status published = detail::publish(store, partial, info); !published) return fail(published.error());
  progress.note(fmt::format("done in {:.1f} s", info.creation_seconds));
  return info;
}

}  // namespace snapcell::cli
