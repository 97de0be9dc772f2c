#pragma once
// A throwaway btrfs filesystem on a sparse loop file, for host tests and
// benchmarks: <scratch>/loop-btrfs.img attached to a free loop device with
// LO_FLAGS_AUTOCLEAR, made with mkfs.btrfs (fork + execvp, fixed argv, no
// shell), mounted (private) at <scratch>/loop-btrfs, holding a subvolume
// "base" (an origin) and a plain directory "snapshots" (for BtrfsVolumes).
//
// Quotas (btrfs qgroups) are off unless asked for: they are what a
// per-snapshot cap (BtrfsVolumes' exclusive_bytes) rests on, and they cost
// every write some accounting, which a benchmark of plain snapshots must not
// pay. When asked for, they are enabled on the empty filesystem, before the
// base exists, so the accounting starts consistent with nothing to rescan.
//
// AUTOCLEAR detaches the loop device when its last user goes: once the
// filesystem is unmounted and our own fd is closed, nothing is left
// attached, even when this process dies instead of running the destructor.

#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/linux/btrfs_volumes.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/linux/interrupt.hpp"
#include "snapcell/linux/sys.hpp"
#include "snapcell/names.hpp"

namespace snapcell::linux_sys {

// Runs a program with a fixed argv (PATH lookup, no shell), stdin and
// stdout on /dev/null, stderr inherited; its exit status 0 or an error.
inline Status run_program(const std::vector<std::string>& argv) {
  if (argv.empty()) return logic_error("run program", "", "empty argv");
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  auto null_fd = open_fd("/dev/null", O_RDWR);
  if (!null_fd) return null_fd.error();
  const pid_t controller = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return errno_error("fork", argv.front());
  if (pid == 0) {  // async-signal-safe calls only until exec
    if (!child_after_fork(controller)) ::_exit(127);
    ::dup2(null_fd->get(), STDIN_FILENO);
    ::dup2(null_fd->get(), STDOUT_FILENO);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  if (retry_eintr([&] { return ::waitpid(pid, &status, 0); }) < 0) return errno_error("waitpid", argv.front());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  return logic_error("run program", argv.front(),
                     WIFEXITED(status) ? fmt::format("exited with {}", WEXITSTATUS(status))
                                       : fmt::format("killed by signal {}", WTERMSIG(status)));
}

struct LoopBtrfs {
  enum class Quotas { off, enabled };

  std::string image;        // <scratch>/loop-btrfs.img
  std::string device;       // /dev/loopN
  std::string mount_point;  // <scratch>/loop-btrfs
  std::string base;         // <mount_point>/base: a subvolume
  std::string snapshots;    // <mount_point>/snapshots: a plain directory

  // Throws Failure; whatever was made before the failure is undone.
  explicit LoopBtrfs(const std::string& scratch_dir, unsigned size_mib = 256, Quotas quotas = Quotas::off) {
    validate_absolute_path("loop scratch dir", scratch_dir).or_throw();
    image = join_path(scratch_dir, "loop-btrfs.img");
    mount_point = join_path(scratch_dir, "loop-btrfs");
    base = join_path(mount_point, "base");
    snapshots = join_path(mount_point, "snapshots");
    try {
      make_image(size_mib);
      attach();
      run_program({"mkfs.btrfs", "-q", device}).or_throw();
      mount_filesystem();
      loop_fd_.reset();  // the mount holds the device now; unmounting detaches it
      auto root = open_directory(mount_point, false);
      if (!root) throw Failure(root.error());
      if (quotas == Quotas::enabled) enable_quotas(root->get());
      btrfs::create_subvolume(root->get(), "base", base).or_throw();
      check(::mkdirat(root->get(), "snapshots", 0700), "mkdirat", snapshots).or_throw();
    } catch (...) {
      (void)close();
      throw;
    }
  }

  LoopBtrfs(const LoopBtrfs&) = delete;
  LoopBtrfs& operator=(const LoopBtrfs&) = delete;
  ~LoopBtrfs() { (void)close(); }

  // Unmounts (detaching lazily only when busy), waits for the loop device
  // to let go of the image, removes the mount point and the image. Safe to
  // call again; the first failure is returned, every step is tried.
  Status close() {
    Status first;
    auto keep = [&first](Status status) {
      if (first && !status) first = std::move(status);
    };
    if (mounted_) {
      if (::umount2(mount_point.c_str(), UMOUNT_NOFOLLOW) != 0) {
        const int code = errno;
        keep(errno_error("umount2", mount_point, code));
        if (code == EBUSY && ::umount2(mount_point.c_str(), UMOUNT_NOFOLLOW | MNT_DETACH) != 0)
          keep(errno_error("umount2 MNT_DETACH", mount_point));
      }
      mounted_ = false;
    }
    loop_fd_.reset();
    if (attached_) {
      keep(wait_detached());
      attached_ = false;
    }
    if (made_mount_point_) {
      if (::rmdir(mount_point.c_str()) != 0 && errno != ENOENT) keep(errno_error("rmdir", mount_point));
      made_mount_point_ = false;
    }
    if (made_image_) {
      if (::unlink(image.c_str()) != 0 && errno != ENOENT) keep(errno_error("unlink", image));
      made_image_ = false;
    }
    return first;
  }

  // Whether the loop device still reads our image as its backing file.
  bool attached() const {
    if (loop_index_ < 0) return false;
    auto backing = read_file(fmt::format("/sys/block/loop{}/loop/backing_file", loop_index_));
    return backing && backing->substr(0, backing->find('\n')) == image;
  }

 private:
  void make_image(unsigned size_mib) {
    auto fd = open_fd(image, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (!fd) throw Failure(errno_error("open O_EXCL", image, fd.code()));
    made_image_ = true;
    check(::ftruncate(fd->get(), static_cast<off_t>(size_mib) << 20), "ftruncate", image).or_throw();
  }

  // LOOP_CTL_GET_FREE names a device that another process may configure
  // before we do: LOOP_CONFIGURE then fails with EBUSY, and we ask again.
  void attach() {
    auto control = open_fd("/dev/loop-control", O_RDWR);
    if (!control) throw Failure(control.error());
    auto backing = open_fd(image, O_RDWR);
    if (!backing) throw Failure(backing.error());
    for (int attempt = 0; attempt < 16; ++attempt) {
      const int index = ::ioctl(control->get(), LOOP_CTL_GET_FREE);
      if (index < 0) throw Failure(errno_error("ioctl LOOP_CTL_GET_FREE", "/dev/loop-control"));
      const std::string path = fmt::format("/dev/loop{}", index);
      auto loop = open_fd(path, O_RDWR);
      if (!loop) {
        if (loop.code() == ENOENT) {  // devtmpfs has not made the node yet
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        throw Failure(loop.error());
      }
      loop_config config{};
      config.fd = static_cast<__u32>(backing->get());
      config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
      std::strncpy(reinterpret_cast<char*>(config.info.lo_file_name), image.c_str(), LO_NAME_SIZE - 1);
      if (::ioctl(loop->get(), LOOP_CONFIGURE, &config) == 0) {
        device = path;
        loop_index_ = index;
        loop_fd_ = std::move(*loop);
        attached_ = true;
        return;
      }
      if (errno != EBUSY) throw Failure(errno_error("ioctl LOOP_CONFIGURE", path));
    }
    throw Failure(logic_error("attach loop device", image, "every free loop device was taken by someone else"));
  }

  void mount_filesystem() {
    check(::mkdir(mount_point.c_str(), 0700), "mkdir", mount_point).or_throw();
    made_mount_point_ = true;
    check(::mount(device.c_str(), mount_point.c_str(), "btrfs", MS_NOSUID | MS_NODEV, nullptr), "mount",
          fmt::format("{}, {}, btrfs", device, mount_point))
        .or_throw();
    mounted_ = true;
    check(::mount(nullptr, mount_point.c_str(), nullptr, MS_PRIVATE, nullptr), "mount MS_PRIVATE", mount_point)
        .or_throw();
  }

  void enable_quotas(int root_fd) {
    btrfs_ioctl_quota_ctl_args args{};
    args.cmd = BTRFS_QUOTA_CTL_ENABLE;
    check(::ioctl(root_fd, BTRFS_IOC_QUOTA_CTL, &args), "ioctl BTRFS_IOC_QUOTA_CTL ENABLE", mount_point).or_throw();
  }

  // The kernel clears an AUTOCLEAR device when its last opener goes, which a
  // lazy unmount may defer: wait a little, then say so.
  Status wait_detached() const {
    for (int i = 0; i < 200; ++i) {
      if (!attached()) return {};
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return logic_error("detach loop device", device, fmt::format("still backed by {} after 2 s", image));
  }

  UniqueFd loop_fd_;
  int loop_index_ = -1;
  bool made_image_ = false;
  bool attached_ = false;
  bool made_mount_point_ = false;
  bool mounted_ = false;
};

}  // namespace snapcell::linux_sys
