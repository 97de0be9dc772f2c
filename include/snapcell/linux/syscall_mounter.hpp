#pragma once
// The Mounter on the real kernel: mkdir/rmdir, mount(2)/umount2(2), the
// facts stat(2) and /proc/self/mountinfo give about a path, and fuser -m's
// question (who holds a device) answered by scanning /proc. It decides
// nothing: whether a path is the session's own mount is decide_ownership's
// call, made from the facts gathered here.

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/linux/mountinfo.hpp"
#include "snapcell/linux/numbers.hpp"
#include "snapcell/linux/sys.hpp"
#include "snapcell/linux/tree.hpp"
#include "snapcell/names.hpp"
#include "snapcell/policies.hpp"

namespace snapcell::linux_sys {

namespace proc_maps {

// The device of one line of /proc/PID/maps, as show_map_vma() prints it:
//   start-end perms offset major:minor inode [path]
// with hex numbers, the device as "%02x:%02x". A line of another shape is
// an error: holders decides which processes are reported, so it never guesses.
struct MapsDevice {
  unsigned major = 0;
  unsigned minor = 0;
};

inline bool is_hex(std::string_view token, std::size_t min_digits) {
  if (token.size() < min_digits) return false;
  return std::all_of(token.begin(), token.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

inline std::optional<unsigned> parse_hex(std::string_view token) {
  if (!is_hex(token, 1) || token.size() > 8) return std::nullopt;
  unsigned value = 0;
  for (char c : token) value = value * 16 + static_cast<unsigned>(c <= '9' ? c - '0' : c - 'a' + 10);
  return value;
}

inline Result<MapsDevice> parse_maps_line(std::string_view line) {
  auto fail = [&](std::string why) { return Result<MapsDevice>{linux_text::parse_error("parse maps line", line, why)}; };
  std::string_view rest = line;
  std::vector<std::string_view> fields;
  for (int i = 0; i < 5; ++i) {
    const auto space = rest.find(' ');
    fields.push_back(rest.substr(0, space));
    if (space == std::string_view::npos) {
      rest = {};
      break;
    }
    rest.remove_prefix(space + 1);
  }
  if (fields.size() != 5) return fail(fmt::format("{} fields, expected at least 5", fields.size()));
  const auto range = linux_text::split(fields[0], '-');
  if (range.size() != 2 || !is_hex(range[0], 1) || !is_hex(range[1], 1)) return fail("address range is not hex-hex");
  if (fields[1].size() != 4) return fail("permissions are not 4 characters");
  if (!is_hex(fields[2], 1)) return fail("offset is not hex");
  const auto device = linux_text::split(fields[3], ':');
  if (device.size() != 2 || !is_hex(device[0], 2) || !is_hex(device[1], 2)) return fail("device is not hex:hex");
  if (!linux_text::parse_decimal<std::uint64_t>(fields[4])) return fail("inode is not decimal");
  if (!rest.empty() && rest.find_first_not_of(' ') == std::string_view::npos) return fail("trailing spaces");
  return MapsDevice{*parse_hex(device[0]), *parse_hex(device[1])};
}

}  // namespace proc_maps

class SyscallMounter {
 public:
  // Exclusive: EEXIST is an error, as the core requires of a mount point.
  Status make_dir(const std::string& path) {
    if (Status valid = validate_absolute_path("mount point", path); !valid) return valid;
    return check(::mkdir(path.c_str(), 0700), "mkdir", path);
  }

  Status remove_dir(const std::string& path) {
    if (Status valid = validate_absolute_path("mount point", path); !valid) return valid;
    return check(::rmdir(path.c_str()), "rmdir", path);
  }

  // nosuid and nodev always. For fs_type "bind", `spec.options` holds the
  // absolute path of the directory to bind (mount(2)'s source; `source` and
  // `root` are what mountinfo will show). The new mount is then made private,
  // so that mounts a build makes under it do not propagate. (The mount itself
  // propagates to the peers of its parent if that is shared: a run dir should
  // be a private mount, as a tmpfs made for the purpose is.)
  Status mount(const MountSpec& spec, const std::string& path) {
    if (Status valid = validate_absolute_path("mount point", path); !valid) return valid;
    if (spec.fs_type.empty()) return logic_error("mount", path, "no filesystem type");
    auto st = stat_path(path, false);
    if (!st) return st.error();
    if (!S_ISDIR(st->st_mode)) return errno_error("mount", path, S_ISLNK(st->st_mode) ? ELOOP : ENOTDIR);
    constexpr unsigned long flags = MS_NOSUID | MS_NODEV;
    if (spec.fs_type == "bind") {
      if (Status valid = validate_absolute_path("bind source", spec.options); !valid) return valid;
      if (::mount(spec.options.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0)
        return errno_error("mount MS_BIND", fmt::format("{}, {}", spec.options, path));
      // A bind mount ignores all other flags: they take a remount.
      if (::mount(nullptr, path.c_str(), nullptr, MS_REMOUNT | MS_BIND | flags, nullptr) != 0)
        return undo_mount(path, errno_error("mount MS_REMOUNT|MS_BIND", path));
    } else {
      const char* data = spec.options.empty() ? nullptr : spec.options.c_str();
      if (::mount(spec.source.c_str(), path.c_str(), spec.fs_type.c_str(), flags, data) != 0)
        return errno_error("mount", fmt::format("{}, {}, {}, {}", spec.source, path, spec.fs_type, spec.options));
    }
    if (::mount(nullptr, path.c_str(), nullptr, MS_PRIVATE, nullptr) != 0)
      return undo_mount(path, errno_error("mount MS_PRIVATE", path));
    return {};
  }

  // stat(2) of the path (following it: a symlink to `/` reads as `/`),
  // of its parent and of `/`, and the mountinfo entries at and below it.
  Result<PathFacts> facts(const std::string& path) {
    if (Status valid = validate_absolute_path("path", path); !valid) return valid.error();
    PathFacts facts;
    auto path_st = stat_path(path);
    if (!path_st) return path_st.error();
    auto parent_st = stat_path(parent_of(path));
    if (!parent_st) return parent_st.error();
    auto root_st = stat_path("/");
    if (!root_st) return root_st.error();
    facts.path_device = path_st->st_dev;
    facts.parent_device = parent_st->st_dev;
    facts.root_device = root_st->st_dev;
    auto mounts = read_mountinfo();
    if (!mounts) return mounts.error();
    const std::string below = path + "/";
    for (const auto& entry : *mounts) {
      MountEntry mount{entry.mount_id, entry.parent_id, entry.mount_point, entry.source,
                       entry.fs_type,  linux_text::makedev_of(entry), entry.root};
      if (entry.mount_point == path) facts.mounts_at_path.push_back(std::move(mount));
      else if (entry.mount_point.rfind(below, 0) == 0) facts.mounts_below.push_back(std::move(mount));
    }
    return facts;
  }

  // Never follows a symlink at the mount point (UMOUNT_NOFOLLOW).
  Status unmount(const std::string& path, UnmountMode mode) {
    if (Status valid = validate_absolute_path("mount point", path); !valid) return valid;
    const int flags = UMOUNT_NOFOLLOW | (mode == UnmountMode::detach ? MNT_DETACH : 0);
    return check(::umount2(path.c_str(), flags), mode == UnmountMode::detach ? "umount2 MNT_DETACH" : "umount2", path);
  }

  // Every process with its root, its cwd (or a thread's), an open file or a
  // mapped file on the device. st_dev is compared, and the mount too: on
  // overlayfs a file's st_dev may be that of the layer it comes from, but
  // its mount is the overlay's. Processes that exit during the scan, or that
  // we may not inspect, are skipped; the scan's own fds are never counted.
  Result<std::vector<Pid>> holders(DeviceId device) {
    auto mounts = read_mountinfo();
    if (!mounts) return mounts.error();
    std::set<std::uint64_t> mounts_of_device;
    for (const auto& entry : *mounts)
      if (linux_text::makedev_of(entry) == device) mounts_of_device.insert(static_cast<std::uint64_t>(entry.mount_id));

    auto proc = open_fd("/proc", O_RDONLY | O_DIRECTORY);
    if (!proc) return proc.error();
    auto names = list_names_at(proc->get(), "/proc");
    if (!names) return names.error();
    const Pid self = ::getpid();
    std::vector<Pid> pids;
    for (const std::string& name : *names) {
      auto pid = linux_text::parse_pid(name);
      if (!pid) continue;
      auto held = holds(proc->get(), *pid, *pid == self, static_cast<dev_t>(device), mounts_of_device);
      if (!held) return held.error();
      if (*held) pids.push_back(*pid);
    }
    return pids;
  }

  Result<std::vector<std::string>> list_dir(const std::string& path) {
    if (Status valid = validate_absolute_path("directory", path); !valid) return valid.error();
    auto dir = open_fd(path, O_RDONLY | O_DIRECTORY);
    if (!dir) return errno_error("opendir", path, dir.code());
    return list_names_at(dir->get(), path);
  }

 private:
  static Status undo_mount(const std::string& path, Status failure) {
    (void)::umount2(path.c_str(), UMOUNT_NOFOLLOW);
    return failure;
  }

  // A process that exited (or became a zombie) while we looked, or one we
  // may not inspect: EACCES even for root when it is non-dumpable in a user
  // namespace we do not own (a container manager's init, say). Such a
  // process cannot be in a containment unit we made, so it is never one the
  // core could signal; like fuser, the scan goes on without it.
  static bool vanished(int code) { return code == ENOENT || code == ESRCH || code == EACCES; }

  struct Probe {
    bool held = false;
    bool gone = false;
  };

  // statx of a magic link (root, cwd, fd/N): what it points to, never opened.
  static Result<Probe> probe_link(int dir_fd, const std::string& name, const std::string& shown, dev_t device,
                                  const std::set<std::uint64_t>& mounts_of_device, bool check_mount) {
    struct statx sx {};
    if (::statx(dir_fd, name.c_str(), AT_NO_AUTOMOUNT, STATX_INO | STATX_MNT_ID, &sx) != 0) {
      if (vanished(errno)) return Probe{false, true};
      return errno_error("statx", shown);
    }
    const bool on_device = device_of(sx) == device;
    const bool on_mount = check_mount && (sx.stx_mask & STATX_MNT_ID) && mounts_of_device.count(sx.stx_mnt_id) != 0;
    return Probe{on_device || on_mount, false};
  }

  static Result<bool> holds(int proc_fd, Pid pid, bool is_self, dev_t device,
                            const std::set<std::uint64_t>& mounts_of_device) {
    const std::string base = fmt::format("/proc/{}", pid);
    auto dir = open_at(proc_fd, std::to_string(pid), O_RDONLY | O_DIRECTORY);
    if (!dir) return vanished(dir.code()) ? Result<bool>(false) : Result<bool>(errno_error("openat", base, dir.code()));

    for (const char* link : {"root", "cwd"}) {
      auto probe = probe_link(dir->get(), link, base + "/" + link, device, mounts_of_device, true);
      if (!probe) return probe.error();
      if (probe->gone) return false;
      if (probe->held) return true;
    }

    // Threads may have their own root and cwd (unshare(CLONE_FS)).
    if (auto tasks = open_at(dir->get(), "task", O_RDONLY | O_DIRECTORY); tasks) {
      auto tids = list_names_at(tasks->get(), base + "/task");
      if (!tids) return vanished(tids.code()) ? Result<bool>(false) : Result<bool>(tids.error());
      for (const std::string& tid : *tids) {
        if (tid == std::to_string(pid)) continue;
        auto task = open_at(tasks->get(), tid, O_RDONLY | O_DIRECTORY);
        if (!task) {
          if (vanished(task.code())) continue;
          return errno_error("openat", base + "/task/" + tid, task.code());
        }
        for (const char* link : {"root", "cwd"}) {
          auto probe = probe_link(task->get(), link, base + "/task/" + tid + "/" + link, device, mounts_of_device, true);
          if (!probe) return probe.error();
          if (probe->held) return true;
        }
      }
    } else if (!vanished(tasks.code())) {
      return errno_error("openat", base + "/task", tasks.code());
    }

    auto fds = open_at(dir->get(), "fd", O_RDONLY | O_DIRECTORY);
    if (!fds) return vanished(fds.code()) ? Result<bool>(false) : Result<bool>(errno_error("openat", base + "/fd", fds.code()));
    auto numbers = list_names_at(fds->get(), base + "/fd");
    if (!numbers) return vanished(numbers.code()) ? Result<bool>(false) : Result<bool>(numbers.error());
    for (const std::string& number : *numbers) {
      // Our own scan holds /proc, /proc/PID, its fd dir and a listing of it:
      // on procfs, but skipped by number all the same.
      if (is_self) {
        auto fd = linux_text::parse_decimal<int>(number);
        if (fd && (*fd == proc_fd || *fd == dir->get() || *fd == fds->get())) continue;
      }
      auto probe = probe_link(fds->get(), number, base + "/fd/" + number, device, mounts_of_device, true);
      if (!probe) return probe.error();
      if (probe->held) return true;
    }

    auto maps = read_file_at(dir->get(), "maps", base + "/maps");
    if (!maps) return vanished(maps.code()) ? Result<bool>(false) : Result<bool>(maps.error());
    for (std::string_view line : linux_text::split_lines(*maps)) {
      auto mapped = proc_maps::parse_maps_line(line);
      if (!mapped) return mapped.error();
      if (makedev(mapped->major, mapped->minor) == device) return true;
    }
    return false;
  }
};

static_assert(Mounter<SyscallMounter>);

}  // namespace snapcell::linux_sys
