#pragma once
// What the host tests share: a scratch directory with a private tmpfs of its
// own (removed with everything mounted below it, even when a test fails),
// kernel feature checks, and the skip that ctest counts (never a silent pass).

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "snapcell/linux/tree.hpp"

namespace snapcell::testing {

inline bool kernel_has_filesystem(std::string_view type) {
  std::ifstream in("/proc/filesystems");
  std::string line;
  while (std::getline(in, line))
    if (line.size() > type.size() && line.compare(line.size() - type.size(), type.size(), type) == 0 &&
        line[line.size() - type.size() - 1] == '\t')
      return true;
  return false;
}

// A mkdtemp directory under /tmp with a private tmpfs on it; on destruction
// everything mounted at or below it is unmounted, newest first (detached
// lazily only if busy), and the directory removed.
class Scratch {
 public:
  explicit Scratch(const char* tmpfs_options = "mode=0700,size=256m") {
    char pattern[] = "/tmp/snapcell-host-XXXXXX";
    if (!::mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
    if (::mount("snapcell-host-test", path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, tmpfs_options) != 0) {
      const int code = errno;
      ::rmdir(path_.c_str());
      throw std::runtime_error("mount tmpfs on " + path_ + ": " + std::strerror(code));
    }
    (void)::mount(nullptr, path_.c_str(), nullptr, MS_PRIVATE, nullptr);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    for (int round = 0; round < 8; ++round) {
      auto mounts = snapcell::linux_sys::read_mountinfo();
      if (!mounts) break;
      std::vector<std::string> ours;
      for (const auto& entry : *mounts)
        if (entry.mount_point == path_ || entry.mount_point.rfind(path_ + "/", 0) == 0) ours.push_back(entry.mount_point);
      if (ours.empty()) break;
      for (auto it = ours.rbegin(); it != ours.rend(); ++it)
        if (::umount2(it->c_str(), UMOUNT_NOFOLLOW) != 0) (void)::umount2(it->c_str(), UMOUNT_NOFOLLOW | MNT_DETACH);
    }
    ::rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }
  std::string operator/(std::string_view leaf) const { return path_ + "/" + std::string(leaf); }

 private:
  std::string path_;
};

inline bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

inline void make_dir(const std::string& path, mode_t mode = 0755) {
  if (::mkdir(path.c_str(), mode) != 0) throw std::runtime_error("mkdir " + path + ": " + std::strerror(errno));
}

// Mounts a tmpfs of its own at `path` (inside a Scratch, which removes it).
inline void mount_tmpfs(const std::string& path, const char* options) {
  make_dir(path, 0700);
  if (::mount("snapcell-host-test", path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options) != 0)
    throw std::runtime_error("mount tmpfs on " + path + ": " + std::strerror(errno));
}

// A dedicated cgroup v2 parent for a test's units, removed at the end.
class CgroupParent {
 public:
  CgroupParent() : path_("/sys/fs/cgroup/unified/snapcell-test-" + std::to_string(::getpid())) {
    if (::mkdir(path_.c_str(), 0755) != 0 && errno != EEXIST)
      throw std::runtime_error("mkdir " + path_ + ": " + std::strerror(errno));
  }
  CgroupParent(const CgroupParent&) = delete;
  CgroupParent& operator=(const CgroupParent&) = delete;
  ~CgroupParent() { ::rmdir(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace snapcell::testing

// Skips (ctest counts the "SKIPPED:" line, and CI refuses skips) unless root.
#define HOST_REQUIRE_ROOT()               \
  do {                                    \
    if (::geteuid() != 0) {               \
      WARN("SKIPPED: not root");          \
      return;                             \
    }                                     \
  } while (0)
