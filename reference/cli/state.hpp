#pragma once
// Where snapcell keeps its state on a host: mount points, the journal,
// overlay layers and logs under one state directory, and the cgroup parents
// builds' units are made in. The state directory must not be on the root
// filesystem: every mount point and layer in it is removed again, and
// nothing is ever removed from `/` (I2).

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <string>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/linux/sys.hpp"
#include "snapcell/names.hpp"

namespace snapcell::cli {

struct StateDirs {
  std::string root;
  std::string mounts;   // the run dir: one mount point per session
  std::string journal;
  std::string volumes;  // overlay upper/work dirs and full copies
  std::string logs;

  explicit StateDirs(const std::string& state_dir)
      : root(state_dir),
        mounts(join_path(state_dir, "mnt")),
        journal(join_path(state_dir, "journal")),
        volumes(join_path(state_dir, "volumes")),
        logs(join_path(state_dir, "logs")) {}
};

inline Status make_dir_if_missing(const std::string& path, mode_t mode = 0700) {
  if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) {
    auto st = linux_sys::stat_path(path, /*follow=*/false);
    if (!st) return st.error();
    if (!S_ISDIR(st->st_mode)) return logic_error("mkdir", path, "exists and is not a directory");
    return {};
  }
  return errno_error("mkdir", path);
}

// Mounts a private tmpfs on `path` unless something is mounted there already.
// Private, so that what is mounted below never propagates into other mount
// namespaces.
inline Status mount_private_tmpfs(const std::string& path, const char* source, const char* options) {
  auto here = linux_sys::stat_path(path);
  auto parent = linux_sys::stat_path(parent_of(path));
  if (!here) return here.error();
  if (!parent) return parent.error();
  if (here->st_dev != parent->st_dev) return {};  // mounted already, by an earlier run
  if (::mount(source, path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options) != 0)
    return errno_error("mount tmpfs", path);
  if (::mount(nullptr, path.c_str(), nullptr, MS_PRIVATE, nullptr) != 0) return errno_error("mount --make-private", path);
  return {};
}

// The state dir must not be on the root filesystem (everything in it is
// removed again, and nothing ever is from `/`): where it is, a tmpfs is
// mounted on it. The run dir inside is a small tmpfs of its own, so that a
// mount point is always on another device than any volume; a bind-mounted
// copy would otherwise look like a bare directory and be refused.
//
// Controllers started together on a fresh state dir (a batch, a farm node)
// prepare it one at a time, under one lock on a tmpfs: without it two could
// each see no tmpfs yet and stack two on the same directory, or one could
// make mnt/ on the directory another is about to cover.
inline constexpr const char* prepare_lock_path = "/run/snapcell-prepare.lock";

inline Status prepare(const StateDirs& dirs) {
  auto lock = linux_sys::open_fd(prepare_lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (!lock) return lock.error();
  if (linux_sys::retry_eintr([&] { return ::flock(lock->get(), LOCK_EX); }) != 0)
    return errno_error("flock", prepare_lock_path);
  if (Status made = make_dir_if_missing(dirs.root); !made) return made;
  auto state = linux_sys::stat_path(dirs.root);
  auto root = linux_sys::stat_path("/");
  if (!state) return state.error();
  if (!root) return root.error();
  if (state->st_dev == root->st_dev)
    if (Status mounted = mount_private_tmpfs(dirs.root, "snapcell-state", "mode=0700"); !mounted) return mounted;
  for (const std::string* dir : {&dirs.mounts, &dirs.journal, &dirs.volumes, &dirs.logs})
    if (Status made = make_dir_if_missing(*dir); !made) return made;
  return mount_private_tmpfs(dirs.mounts, "snapcell-run", "mode=0700,size=1m");
}

}  // namespace snapcell::cli
