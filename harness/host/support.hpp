#pragma once
// What the host tests share: a scratch directory with a private tmpfs of its
// own (removed with everything mounted below it, even when a test fails),
// kernel feature checks, and the skip that ctest counts (never a silent pass).

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "snapcell/linux/cgroup_layout.hpp"
#include "snapcell/linux/scratch_tmpfs.hpp"
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

// What a Scratch is called and how big its tmpfs may grow (a ceiling, not an
// allocation: a loop device's btrfs image needs room, a journal does not).
struct ScratchOptions {
  const char* prefix = "snapcell-host";
  const char* tmpfs = "mode=0700,size=256m";
};

// A mkdtemp directory under /tmp with a private tmpfs on it, so that nothing
// made here is on the root filesystem; on destruction everything mounted at
// or below it goes, and the directory (linux_sys::ScratchTmpfs).
class Scratch {
 public:
  explicit Scratch(ScratchOptions options = {})
      : tmpfs_(std::string("/tmp/") + options.prefix, "snapcell-host-test", options.tmpfs) {}
  const std::string& path() const { return tmpfs_.path(); }
  std::string operator/(std::string_view leaf) const { return path() + "/" + std::string(leaf); }

 private:
  snapcell::linux_sys::ScratchTmpfs tmpfs_;
};

inline bool program_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':'))
    if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) return true;
  return false;
}

inline bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

inline void make_dir(const std::string& path, mode_t mode = 0755) {
  if (::mkdir(path.c_str(), mode) != 0) throw std::runtime_error("mkdir " + path + ": " + std::strerror(errno));
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

// Mounts a tmpfs of its own at `path` (inside a Scratch, which removes it).
inline void mount_tmpfs(const std::string& path, const char* options) {
  make_dir(path, 0700);
  if (::mount("snapcell-host-test", path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options) != 0)
    throw std::runtime_error("mount tmpfs on " + path + ": " + std::strerror(errno));
}

// A dedicated cgroup v2 parent for a test's units, removed at the end
// (by default in this host's v2 hierarchy).
class CgroupParent {
 public:
  CgroupParent() : CgroupParent(v2_mount() + "/snapcell-test-" + std::to_string(::getpid())) {}
  explicit CgroupParent(std::string path) : path_(std::move(path)) {
    if (::mkdir(path_.c_str(), 0755) != 0 && errno != EEXIST)
      throw std::runtime_error("mkdir " + path_ + ": " + std::strerror(errno));
  }
  CgroupParent(const CgroupParent&) = delete;
  CgroupParent& operator=(const CgroupParent&) = delete;
  ~CgroupParent() { ::rmdir(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  static std::string v2_mount() {
    const auto& layout = linux_sys::host_cgroup_layout();
    if (!layout) throw std::runtime_error(layout.error().message());
    return layout->v2_mount;
  }
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

// Skips unless the kernel has the filesystem `type` (a string literal).
#define HOST_REQUIRE_FILESYSTEM(type)                                         \
  do {                                                                        \
    if (!::snapcell::testing::kernel_has_filesystem(type)) {                  \
      WARN("SKIPPED: the kernel has no " type " (not in /proc/filesystems)"); \
      return;                                                                 \
    }                                                                         \
  } while (0)

// btrfs on a loop device (linux/loop_btrfs.hpp): the filesystem, a loop
// control device and mkfs.btrfs to make the image with.
#define HOST_REQUIRE_LOOP_BTRFS()                                   \
  do {                                                              \
    HOST_REQUIRE_FILESYSTEM("btrfs");                               \
    if (!::snapcell::testing::exists("/dev/loop-control")) {        \
      WARN("SKIPPED: no /dev/loop-control");                        \
      return;                                                       \
    }                                                               \
    if (!::snapcell::testing::program_on_path("mkfs.btrfs")) {      \
      WARN("SKIPPED: mkfs.btrfs is not installed");                 \
      return;                                                       \
    }                                                               \
  } while (0)
