#pragma once
// A throwaway directory with a private tmpfs of its own on it, for tests,
// benchmarks and `snapcell verify`: nothing they make lands on `/`, and
// taking the tmpfs down takes every file along.
//
// Its destructor unmounts everything mounted at or below the directory,
// newest first, then removes the directory. Only there: the directory is a
// fresh mkdtemp name this process made, so whatever is mounted below it was
// mounted by this process or its children (loop btrfs, snapshots, overlay
// layers, debootstrap's /proc), never by someone else.

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "snapcell/error.hpp"
#include "snapcell/linux/tree.hpp"

namespace snapcell::linux_sys {

// Unmounts every mount at or below `dir` (or strictly below, when
// `include_dir` is false), newest first, lazily where one is busy. A few
// rounds, because a lazy unmount of a parent can only be seen once its
// children have gone. Best effort: it runs in destructors and on error paths.
inline void unmount_all_below(const std::string& dir, bool include_dir = true) {
  const std::string below = dir + "/";
  for (int round = 0; round < 8; ++round) {
    auto mounts = read_mountinfo();
    if (!mounts) return;
    std::vector<std::string> ours;
    for (const auto& entry : *mounts)
      if ((include_dir && entry.mount_point == dir) || entry.mount_point.starts_with(below))
        ours.push_back(entry.mount_point);
    if (ours.empty()) return;
    for (auto it = ours.rbegin(); it != ours.rend(); ++it)
      if (::umount2(it->c_str(), UMOUNT_NOFOLLOW) != 0) (void)::umount2(it->c_str(), UMOUNT_NOFOLLOW | MNT_DETACH);
  }
}

class ScratchTmpfs {
 public:
  // mkdtemp(`prefix`-XXXXXX), then a tmpfs named `source` with `options`
  // mounted on it and made private. Throws Failure; nothing is left then.
  ScratchTmpfs(const std::string& prefix, const std::string& source, const std::string& options) {
    std::string pattern = prefix + "-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw Failure(errno_error("mkdtemp", pattern));
    path_ = pattern;
    if (::mount(source.c_str(), path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      Error error = errno_error("mount(tmpfs)", path_);
      ::rmdir(path_.c_str());
      throw Failure(error);
    }
    if (::mount(nullptr, path_.c_str(), nullptr, MS_PRIVATE, nullptr) != 0) {
      Error error = errno_error("mount(MS_PRIVATE)", path_);
      (void)::umount2(path_.c_str(), UMOUNT_NOFOLLOW);
      ::rmdir(path_.c_str());
      throw Failure(error);
    }
  }
  ScratchTmpfs(const ScratchTmpfs&) = delete;
  ScratchTmpfs& operator=(const ScratchTmpfs&) = delete;
  ~ScratchTmpfs() {
    unmount_all_below(path_);
    ::rmdir(path_.c_str());
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace snapcell::linux_sys
