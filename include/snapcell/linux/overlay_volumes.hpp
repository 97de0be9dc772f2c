#pragma once
// Snapshots as overlayfs layers: the origin directory is the lower layer,
// and each snapshot is a directory in a scratch directory holding the upper
// layer, overlayfs's work directory and a record of the origin:
//
//   <scratch>/<name>/origin          the origin's path, as given
//   <scratch>/<name>/layers          a tmpfs of its own, "snapcell-layers:<name>",
//                                    size-capped: what one build may write
//   <scratch>/<name>/layers/upper    what the build writes (root: the origin's owner and mode)
//   <scratch>/<name>/layers/work     overlayfs's own; it leaves work/work behind with mode 000
//   <scratch>/<name>/lower           shifted volumes only: the origin, idmapped and read-only
//
// A shifted volume (`shift`: a user namespace's id range) is seen as owned
// by root of a user namespace with that map, so that a build that is root
// there owns what the origin's root owns (linux/idmap.hpp). The kernel does
// not idmap an overlay mount itself, so its lower layer is the origin
// through an idmapped mount, and the upper layer (a tmpfs, thrown away with
// the volume) stores the shifted ids as they are: root inside writes files
// of the range's first id there, and copy-ups keep the lower layer's
// shifted owners. The overlay is mounted by the host's root as any other;
// nothing of the origin changes owner on disk.
//
// The mount source is "snapcell-overlay:<name>": mountinfo prints it as
// given, so it is what proves a mount is the session's own. The layers'
// tmpfs caps a runaway write per session (ENOSPC in the build) instead of
// filling the scratch directory every session shares (I7); it is unmounted
// by remove(), once mountinfo shows it with its own source.

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/linux/idmap.hpp"
#include "snapcell/linux/mountinfo.hpp"
#include "snapcell/linux/sys.hpp"
#include "snapcell/linux/tree.hpp"
#include "snapcell/names.hpp"
#include "snapcell/policies.hpp"

namespace snapcell::linux_sys {

// What the overlay and the full-copy backends share: one directory per
// volume in a scratch directory, with the origin recorded in a file.
namespace scratch_volumes {

inline constexpr const char* origin_file = "origin";

// Nothing in a scratch directory is ever an origin: a volume whose record
// is missing or empty reads "?", a snapshot of something unknown, which the
// core refuses to remove for a session of a known origin. Unless it holds
// nothing else: see cut_short_empty.
inline constexpr std::string_view unknown_origin = "?";

// Overlay options are split at ',' and ':' and unescape '\\': paths holding
// them are refused rather than escaped, so what is checked is what is used.
inline Status validate_option_path(std::string_view what, std::string_view path) {
  if (Status valid = validate_absolute_path(what, path); !valid) return valid;
  if (path.find_first_of(",:\\") != std::string_view::npos)
    return logic_error(fmt::format("validate {}", what), std::string(path),
                       "contains ',', ':' or '\\', which mount options would split or unescape");
  return {};
}

inline std::string read_origin(int volume_fd, const std::string& shown) {
  auto text = read_file_at(volume_fd, origin_file, shown + "/" + origin_file);
  if (!text || text->empty()) return std::string(unknown_origin);
  return std::move(text).value();
}

// What a controller killed between create_volume's mkdir and its write of
// the origin leaves: a volume directory holding nothing, or only an empty
// origin file. Removing it loses nothing, so it needs no proof of origin.
inline bool is_cut_short_empty(int volume_fd, const std::string& shown) {
  auto names = list_names_at(volume_fd, shown);
  if (!names || names->size() > 1) return false;
  if (names->empty()) return true;
  struct stat record {};
  return names->front() == origin_file && ::fstatat(volume_fd, origin_file, &record, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISREG(record.st_mode) && record.st_size == 0;
}

// The volume directory, directly in the scratch directory: a symlink or a
// file carrying the name is not a volume and is never followed.
inline Result<UniqueFd> open_volume(int scratch_fd, const std::string& scratch, const std::string& name) {
  const std::string shown = join_path(scratch, name);
  auto fd = open_at(scratch_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!fd) {
    const int code = fd.code() == ELOOP ? ENOTDIR : fd.code();
    return Error{"open volume", shown, code, code == ENOTDIR ? "not a directory (a symlink is never followed)" : ""};
  }
  return fd;
}

// The scratch directory, or ENOENT: listing an absent one lists nothing.
inline Result<UniqueFd> open_scratch(const std::string& scratch, bool create) { return open_directory(scratch, create); }

inline Result<std::vector<VolumeInfo>> list(const std::string& scratch, const std::string& prefix) {
  std::vector<VolumeInfo> listed;
  auto scratch_fd = open_scratch(scratch, false);
  if (!scratch_fd) {
    if (scratch_fd.code() == ENOENT) return listed;
    return scratch_fd.error();
  }
  auto names = list_names_at(scratch_fd->get(), scratch);
  if (!names) return names.error();
  for (const std::string& name : *names) {
    if (name.rfind(prefix, 0) != 0 || !validate_volume_name(name)) continue;
    auto volume = open_volume(scratch_fd->get(), scratch, name);
    if (!volume) {
      if (volume.code() == ENOENT || volume.code() == ENOTDIR) continue;  // removed meanwhile, or not a volume
      return volume.error();
    }
    const std::string shown = join_path(scratch, name);
    std::string origin = read_origin(volume->get(), shown);
    // A recorded origin means the volume was not cut short: its directory
    // is read only for those without one.
    const bool cut_short = origin == unknown_origin && is_cut_short_empty(volume->get(), shown);
    listed.push_back({name, std::move(origin), cut_short});
  }
  return listed;
}

// Makes <scratch>/<name> exclusively (EEXIST if it is there) and records the
// origin in it; `fill` makes the rest. Whatever fails after the mkdir is
// undone, so a failed snapshot leaves no volume behind.
template <class Fill>
Status create_volume(const std::string& scratch, const std::string& name, const std::string& origin, Fill fill) {
  auto scratch_fd = open_scratch(scratch, true);
  if (!scratch_fd) return scratch_fd.error();
  const std::string shown = join_path(scratch, name);
  if (::mkdirat(scratch_fd->get(), name.c_str(), 0700) != 0) return errno_error("mkdirat", shown);
  Status made = [&]() -> Status {
    auto volume = open_volume(scratch_fd->get(), scratch, name);
    if (!volume) return volume.error();
    if (Status recorded = write_new_file_at(volume->get(), origin_file, origin, shown + "/" + origin_file);
        !recorded)
      return recorded;
    return fill(volume->get(), shown);
  }();
  if (!made) (void)remove_tree_at(scratch_fd->get(), name);
  return made;
}

// Removes <scratch>/<name> when `mounted` says no mount uses it.
template <class Mounted>
Status remove_volume(const std::string& scratch, const std::string& name, Mounted mounted) {
  if (Status valid = validate_volume_name(name); !valid) return valid;
  const std::string shown = join_path(scratch, name);
  auto scratch_fd = open_scratch(scratch, false);
  if (!scratch_fd) return errno_error("remove volume", shown, scratch_fd.code());
  auto volume = open_volume(scratch_fd->get(), scratch, name);
  if (!volume) return volume.error();
  Result<bool> in_use = mounted(volume->get(), shown);
  if (!in_use) return in_use.error();
  if (*in_use) return Error{"remove volume", shown, EBUSY, "still mounted"};
  volume->reset();
  return remove_tree_at(scratch_fd->get(), name);
}

// Whether a volume is absent: ENOENT, as lvremove says it.
inline Result<UniqueFd> existing_volume(const std::string& scratch, const std::string& name) {
  if (Status valid = validate_volume_name(name); !valid) return valid.error();
  auto scratch_fd = open_scratch(scratch, false);
  if (!scratch_fd) return errno_error("open volume", join_path(scratch, name), scratch_fd.code());
  return open_volume(scratch_fd->get(), scratch, name);
}

inline Status validate_origin_directory(const std::string& origin) {
  auto st = stat_path(origin);
  if (!st) return st.error();
  if (!S_ISDIR(st->st_mode)) return errno_error("snapshot origin", origin, ENOTDIR);
  return {};
}

// What one build may write by default: the cap of an overlay's layers and
// of what a full copy may grow by.
inline constexpr std::uint64_t default_write_bytes = 1ull << 30;

// A tmpfs of one volume's own at the existing directory `dir`, named
// `source` in mountinfo (what later proves it is the volume's), private (no
// mount or unmount propagates from or to it) and capped at `bytes` (0:
// tmpfs's default, half of RAM).
inline Status mount_own_tmpfs(const std::string& source, const std::string& dir, std::uint64_t bytes) {
  const std::string options = bytes ? fmt::format("mode=0700,size={}", bytes) : std::string("mode=0700");
  if (::mount(source.c_str(), dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0)
    return errno_error("mount(tmpfs)", dir);
  if (::mount(nullptr, dir.c_str(), nullptr, MS_PRIVATE, nullptr) != 0) {
    Error error = errno_error("mount(MS_PRIVATE)", dir);
    (void)::umount2(dir.c_str(), UMOUNT_NOFOLLOW);  // ours: mounted just above, private to nothing yet
    return error;
  }
  return {};
}

// The volume's own tmpfs at `dir` in `mounts`: null when nothing is mounted
// there; EBUSY when something else is (never ours to unmount, I2).
inline Result<const linux_text::MountInfoEntry*> own_tmpfs(const std::string& source, const std::string& dir,
                                                            const std::vector<linux_text::MountInfoEntry>& mounts) {
  const linux_text::MountInfoEntry* own = nullptr;
  for (const auto& entry : mounts) {
    if (entry.mount_point != dir) continue;
    if (entry.fs_type != "tmpfs" || entry.source != source)
      return Error{"umount2", dir, EBUSY, fmt::format("a mount of '{}' is there, not this volume's", entry.source)};
    own = &entry;
  }
  return own;
}

// Unmounts the tmpfs at `dir` only when `mounts` (read just before: each
// read walks the whole mount table) shows it there with `source`; absent is
// done, anything else mounted there is refused.
inline Status unmount_own_tmpfs(const std::string& source, const std::string& dir,
                                const std::vector<linux_text::MountInfoEntry>& mounts) {
  auto own = own_tmpfs(source, dir, mounts);
  if (!own) return own.error();
  if (*own && ::umount2(dir.c_str(), UMOUNT_NOFOLLOW) != 0) return errno_error("umount2", dir);
  return {};
}

}  // namespace scratch_volumes

class OverlayVolumes {
 public:
  static constexpr std::string_view kind = "overlay";  // recorded in the journal: reap must run the same
  static constexpr std::string_view source_prefix = "snapcell-overlay:";
  static constexpr std::string_view layers_source_prefix = "snapcell-layers:";
  static constexpr std::uint64_t default_layers_bytes = scratch_volumes::default_write_bytes;

  // Throws Failure for a scratch path overlay options could not carry, or a
  // shift that is not a valid range. The directory itself is made (0700) by
  // the first snapshot. `layers_bytes`: how much one snapshot's build may
  // write. `shift`: snapshots are seen as owned by root of a user namespace
  // mapping this range (count 0: as the origin is).
  explicit OverlayVolumes(std::string scratch_dir, std::uint64_t layers_bytes = default_layers_bytes,
                          IdRange shift = {})
      : scratch_(std::move(scratch_dir)), layers_bytes_(layers_bytes), shift_(shift) {
    scratch_volumes::validate_option_path("overlay scratch dir", scratch_).or_throw();
    if (layers_bytes_ == 0) throw Failure(logic_error("overlay layers size", scratch_, "must be positive"));
    if (shift_.count > 0) validate_id_range(shift_).or_throw();
  }

  static std::string source_of(const std::string& name) { return std::string(source_prefix) + name; }
  static std::string layers_source_of(const std::string& name) { return std::string(layers_source_prefix) + name; }
  const std::string& scratch_dir() const { return scratch_; }

  Result<MountSpec> snapshot(const std::string& origin, const std::string& name) {
    if (Status valid = validate_volume_name(name); !valid) return valid.error();
    if (Status valid = scratch_volumes::validate_option_path("origin", origin); !valid) return valid.error();
    if (Status valid = scratch_volumes::validate_origin_directory(origin); !valid) return valid.error();
    Status made = scratch_volumes::create_volume(scratch_, name, origin, [&](int volume_fd, const std::string& shown) {
      if (Status mounted = mount_layers(name, shown); !mounted) return mounted;
      Status layers = shift_.count > 0 ? mount_shifted_lower(volume_fd, name, shown, origin) : Status{};
      if (layers) layers = make_layers(volume_fd, shown, shift_.count > 0 ? lower_dir(name) : origin);
      if (!layers) (void)unmount_volume_mounts(name);  // else the volume could not be removed
      return layers;
    });
    if (!made) return made.error();
    return spec_for(name, origin, shift_.count > 0);
  }

  // Refuses (EBUSY) while mountinfo shows the overlay: its upper layer must
  // not change under a mounted overlay. Then unmounts the shifted lower
  // layer and the layers' tmpfs (whatever this object's shift: reap removes
  // volumes of any session).
  Status remove(const std::string& name) {
    return scratch_volumes::remove_volume(scratch_, name, [&](int, const std::string&) -> Result<bool> {
      auto mounts = read_mountinfo();
      if (!mounts) return mounts.error();
      for (const auto& entry : *mounts)
        if (entry.fs_type == "overlay" && entry.source == source_of(name)) return true;
      if (Status unmounted = unmount_volume_mounts(name, *mounts); !unmounted) return unmounted.error();
      return false;
    });
  }

  Result<std::vector<VolumeInfo>> list(const std::string& prefix) { return scratch_volumes::list(scratch_, prefix); }

  Result<MountSpec> mount_spec(const std::string& name) {
    auto volume = scratch_volumes::existing_volume(scratch_, name);
    if (!volume) return volume.error();
    std::string origin = scratch_volumes::read_origin(volume->get(), join_path(scratch_, name));
    if (Status valid = scratch_volumes::validate_option_path("recorded origin", origin); !valid) return valid.error();
    // A volume made shifted has its lower directory, whatever this object's shift.
    struct stat lower {};
    const bool shifted = ::fstatat(volume->get(), "lower", &lower, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(lower.st_mode);
    return spec_for(name, origin, shifted);
  }

 private:
  // The overlay's root directory takes its owner and mode from the upper
  // layer's: they are the origin's, so the chroot's "/" looks like the base's.
  std::string layers_dir(const std::string& name) const { return join_path(join_path(scratch_, name), "layers"); }

  // <volume>/layers, a private tmpfs of `layers_bytes_`: upper and work must
  // be on one filesystem, and this one is the session's alone.
  Status mount_layers(const std::string& name, const std::string& shown) {
    const std::string layers = layers_dir(name);
    if (::mkdir(layers.c_str(), 0700) != 0) return errno_error("mkdir", shown + "/layers");
    return scratch_volumes::mount_own_tmpfs(layers_source_of(name), layers, layers_bytes_);
  }

  static bool is_idmapped(const linux_text::MountInfoEntry& entry) {
    for (std::string_view option : linux_text::split(entry.mount_options, ','))
      if (option == "idmapped") return true;
    return false;
  }

  // Unmounts a volume's mounts only where mountinfo proves them its own
  // (I2): the shifted lower layer (a volume with a shift has one) when it is
  // idmapped at <volume>/lower (a directory only a snapshot of ours makes,
  // in a volume directory it made exclusively), then the layers' tmpfs when
  // it carries this volume's source. Absent is done; anything else mounted
  // there is refused.
  Status unmount_volume_mounts(const std::string& name, const std::vector<linux_text::MountInfoEntry>& mounts) {
    for (const auto& entry : mounts) {
      if (entry.mount_point != lower_dir(name)) continue;
      if (!is_idmapped(entry))
        return Error{"umount2", lower_dir(name), EBUSY, fmt::format("a mount of '{}' is there, not idmapped", entry.source)};
      if (::umount2(lower_dir(name).c_str(), UMOUNT_NOFOLLOW) != 0) return errno_error("umount2", lower_dir(name));
    }
    return scratch_volumes::unmount_own_tmpfs(layers_source_of(name), layers_dir(name), mounts);
  }

  Status unmount_volume_mounts(const std::string& name) {
    auto mounts = read_mountinfo();
    if (!mounts) return mounts.error();
    return unmount_volume_mounts(name, *mounts);
  }

  std::string lower_dir(const std::string& name) const { return join_path(join_path(scratch_, name), "lower"); }

  // <volume>/lower: the origin, read-only, through the shift's map. The
  // namespace that carries the map is made once per object, on first use.
  Status mount_shifted_lower(int volume_fd, const std::string& name, const std::string& shown, const std::string& origin) {
    if (!shift_namespace_) {
      auto made = make_id_namespace(shift_);
      if (!made) return made.status();
      shift_namespace_ = std::move(*made);
    }
    if (::mkdirat(volume_fd, "lower", 0700) != 0) return errno_error("mkdirat", shown + "/lower");
    return bind_idmapped(origin, lower_dir(name), shift_namespace_.get(), /*read_only=*/true);
  }

  // `shown_origin`: what the upper layer's root takes its owner and mode
  // from, the origin or its shifted view.
  static Status make_layers(int volume_fd, const std::string& shown, const std::string& shown_origin) {
    auto origin_st = stat_path(shown_origin);
    if (!origin_st) return origin_st.error();
    if (::mkdirat(volume_fd, "layers/upper", 0700) != 0) return errno_error("mkdirat", shown + "/layers/upper");
    if (::fchownat(volume_fd, "layers/upper", origin_st->st_uid, origin_st->st_gid, AT_SYMLINK_NOFOLLOW) != 0)
      return errno_error("fchownat", shown + "/layers/upper");
    if (::fchmodat(volume_fd, "layers/upper", origin_st->st_mode & 07777, 0) != 0)
      return errno_error("fchmodat", shown + "/layers/upper");
    if (::mkdirat(volume_fd, "layers/work", 0700) != 0) return errno_error("mkdirat", shown + "/layers/work");
    return {};
  }

  MountSpec spec_for(const std::string& name, const std::string& origin, bool shifted) const {
    const std::string layers = layers_dir(name);
    const std::string lower = shifted ? lower_dir(name) : origin;
    return MountSpec{source_of(name), "overlay",
                     fmt::format("lowerdir={},upperdir={}/upper,workdir={}/work", lower, layers, layers), "/", shifted};
  }

  std::string scratch_;
  std::uint64_t layers_bytes_;
  IdRange shift_;
  UniqueFd shift_namespace_;
};

static_assert(VolumeManager<OverlayVolumes>);

}  // namespace snapcell::linux_sys
