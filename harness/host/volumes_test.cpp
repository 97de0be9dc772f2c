// Host integration (root): the real volume managers (overlayfs, btrfs on a
// loop device, the full copy) through a whole snapshot life on the kernel,
// and the tree operations they rest on. Every test works in a tmpfs mounted
// on a fresh mkdtemp directory and leaves nothing behind, failing or not.

#include "host/support.hpp"
#include "snapcell/linux/btrfs_volumes.hpp"
#include "snapcell/linux/copy_volumes.hpp"
#include "snapcell/linux/loop_btrfs.hpp"
#include "snapcell/linux/overlay_volumes.hpp"
#include "snapcell/linux/syscall_mounter.hpp"
#include "snapcell/linux/tree.hpp"
#include "snapcell/ownership.hpp"

#include <fcntl.h>
#include <linux/btrfs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

using snapcell::MountSpec;
using snapcell::Result;
using snapcell::Status;
using snapcell::linux_sys::BtrfsVolumes;
using snapcell::linux_sys::CopyVolumes;
using snapcell::linux_sys::LoopBtrfs;
using snapcell::linux_sys::OverlayVolumes;
using snapcell::linux_sys::SyscallMounter;
using snapcell::testing::exists;
using snapcell::testing::make_dir;
using snapcell::testing::write_text;

namespace {

// Room for a btrfs image on a loop device.
struct Scratch : snapcell::testing::Scratch {
  Scratch() : snapcell::testing::Scratch({.prefix = "snapcell-policies", .tmpfs = "mode=0700,size=1g"}) {}
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A tiny base chroot.
void fill_base(const std::string& base) {
  make_dir(base + "/etc");
  write_text(base + "/etc/hostname", "base\n");
  if (::symlink("hostname", (base + "/etc/link").c_str()) != 0) throw std::runtime_error("symlink");
}

const std::string kName = "hosttest-00000000000000a1";

std::string identity_on_top(const std::string& mount_point) {
  auto mounts = snapcell::linux_sys::read_mountinfo();
  REQUIRE(mounts);
  std::string identity = "<none>";
  for (const auto& entry : *mounts)
    if (entry.mount_point == mount_point) identity = snapcell::mount_identity(entry.source, entry.root);
  return identity;
}

// The life every backend must live through: snapshot, mount, prove, write
// inside without touching the base, refuse removal while mounted, unmount,
// remove, and nothing listed afterwards.
template <class Volumes>
void round_trip(Volumes& volumes, const std::string& origin, const std::string& run_dir) {
  SyscallMounter mounter;
  auto spec = volumes.snapshot(origin, kName);
  REQUIRE(spec);
  CHECK_FALSE(spec->shows_shifted_ids);  // made without a shift: the sandbox idmaps it, if at all
  const std::string identity = snapcell::mount_identity(spec->source, spec->root);

  auto listed = volumes.list("hosttest-");
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().name == kName);
  CHECK(listed->front().origin == origin);
  auto again = volumes.mount_spec(kName);
  REQUIRE(again);
  CHECK(*again == *spec);
  CHECK(volumes.snapshot(origin, kName).code() == EEXIST);

  const std::string mount_point = run_dir + "/" + kName;
  REQUIRE(mounter.make_dir(mount_point));
  REQUIRE(mounter.mount(*spec, mount_point));
  // What the ownership proof compares: the identity the volume manager
  // predicted is what mountinfo shows for the mounted snapshot.
  CHECK(identity_on_top(mount_point) == identity);
  auto facts = mounter.facts(mount_point);
  REQUIRE(facts);
  auto proof = snapcell::decide_ownership(mount_point, *facts, identity);
  INFO((proof ? std::string("proven") : proof.error().message()));
  CHECK(proof);

  CHECK(read_text(mount_point + "/etc/hostname") == "base\n");
  CHECK(read_text(mount_point + "/etc/link") == "base\n");
  write_text(mount_point + "/etc/hostname", "build\n");
  write_text(mount_point + "/made-by-build", "x");
  CHECK(read_text(mount_point + "/etc/hostname") == "build\n");
  CHECK(read_text(origin + "/etc/hostname") == "base\n");
  CHECK_FALSE(exists(origin + "/made-by-build"));

  CHECK(volumes.remove(kName).code() == EBUSY);
  REQUIRE(mounter.unmount(mount_point, snapcell::UnmountMode::plain));
  REQUIRE(mounter.remove_dir(mount_point));
  REQUIRE(volumes.remove(kName));
  CHECK(volumes.remove(kName).code() == ENOENT);
  CHECK(volumes.mount_spec(kName).code() == ENOENT);
  listed = volumes.list("hosttest-");
  REQUIRE(listed);
  CHECK(listed->empty());
  CHECK(read_text(origin + "/etc/hostname") == "base\n");
}

std::vector<std::string> loop_devices_backed_by(const std::string& image) {
  std::vector<std::string> devices;
  for (int i = 0; i < 256; ++i) {
    const std::string backing = "/sys/block/loop" + std::to_string(i) + "/loop/backing_file";
    if (!exists(backing)) continue;
    std::string text = read_text(backing);
    if (text.substr(0, text.find('\n')) == image) devices.push_back("/dev/loop" + std::to_string(i));
  }
  return devices;
}

// Where the kernel shows a btrfs qgroup 0/<subvolume id>:
// /sys/fs/btrfs/<fsid>/qgroups/0_<id>, present while the qgroup exists.
std::string qgroup_sysfs_dir(const std::string& on_filesystem, std::uint64_t subvolume_id) {
  auto fd = snapcell::linux_sys::open_fd(on_filesystem, O_RDONLY | O_DIRECTORY);
  REQUIRE(fd);
  btrfs_ioctl_fs_info_args info{};
  REQUIRE(::ioctl(fd->get(), BTRFS_IOC_FS_INFO, &info) == 0);
  std::string uuid;
  for (int i = 0; i < BTRFS_FSID_SIZE; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) uuid += '-';
    uuid += fmt::format("{:02x}", info.fsid[i]);
  }
  return fmt::format("/sys/fs/btrfs/{}/qgroups/0_{}", uuid, subvolume_id);
}

struct Written {
  std::uint64_t mib = 0;
  int error = 0;  // errno of the open or write that failed; 0: all written
};

// Writes `mib` 1 MiB blocks to a new file, stopping at the first failure.
Written write_mib(const std::string& path, std::uint64_t mib) {
  Written written;
  static const std::string block(1 << 20, 'x');
  auto fd = snapcell::linux_sys::open_fd(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (!fd) {
    written.error = fd.code();
    return written;
  }
  for (; written.mib < mib; ++written.mib) {
    std::size_t done = 0;
    while (done < block.size()) {
      const ssize_t n = ::write(fd->get(), block.data() + done, block.size() - done);
      if (n < 0) {
        written.error = errno;
        return written;
      }
      done += static_cast<std::size_t>(n);
    }
  }
  if (::fsync(fd->get()) != 0) written.error = errno;  // delayed allocation may refuse only here
  return written;
}

}  // namespace

// ---- overlay -----------------------------------------------------------------

TEST_CASE("host volumes: overlay snapshot mounts, takes writes, leaves the base unchanged and is removed", "[host]") {
  HOST_REQUIRE_ROOT();
  HOST_REQUIRE_FILESYSTEM("overlay");
  Scratch scratch;
  make_dir(scratch / "base");
  fill_base(scratch / "base");
  make_dir(scratch / "run", 0700);
  OverlayVolumes volumes(scratch / "overlay");
  round_trip(volumes, scratch / "base", scratch / "run");
  CHECK_FALSE(exists(scratch / "overlay" + "/" + kName));  // work/work (mode 000) went too
}

TEST_CASE("host volumes: overlay mount root has the origin's owner and mode", "[host]") {
  HOST_REQUIRE_ROOT();
  HOST_REQUIRE_FILESYSTEM("overlay");
  Scratch scratch;
  make_dir(scratch / "base", 0751);
  REQUIRE(::chown((scratch / "base").c_str(), 123, 456) == 0);
  make_dir(scratch / "run", 0700);
  OverlayVolumes volumes(scratch / "overlay");
  SyscallMounter mounter;
  auto spec = volumes.snapshot(scratch / "base", kName);
  REQUIRE(spec);
  const std::string mount_point = scratch / "run" + "/" + kName;
  REQUIRE(mounter.make_dir(mount_point));
  REQUIRE(mounter.mount(*spec, mount_point));
  struct stat st {};
  REQUIRE(::stat(mount_point.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0751);
  CHECK(st.st_uid == 123u);
  CHECK(st.st_gid == 456u);
  REQUIRE(mounter.unmount(mount_point, snapcell::UnmountMode::plain));
  REQUIRE(volumes.remove(kName));
}

TEST_CASE("host volumes: overlay refuses bad names, missing origins, option-splitting paths and taken names", "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  make_dir(scratch / "base");
  write_text(scratch / "file", "not a directory");
  OverlayVolumes volumes(scratch / "overlay");
  for (const char* bad : {"", "Upper", "a/b", ".hidden", "-dash", "a b", "../x"}) {
    INFO(bad);
    CHECK_FALSE(volumes.snapshot(scratch / "base", bad));
  }
  CHECK(volumes.snapshot(scratch / "missing", kName).code() == ENOENT);
  CHECK(volumes.snapshot(scratch / "file", kName).code() == ENOTDIR);
  CHECK_FALSE(volumes.snapshot(scratch / "we,ird", kName));
  CHECK_FALSE(volumes.snapshot(scratch / "we:ird", kName));
  CHECK_FALSE(volumes.snapshot("relative/base", kName));
  CHECK_THROWS_AS(OverlayVolumes(scratch / "with:colon"), snapcell::Failure);
  // A refused snapshot leaves nothing.
  auto listed = volumes.list("");
  REQUIRE(listed);
  CHECK(listed->empty());
  CHECK(volumes.remove(kName).code() == ENOENT);
}

TEST_CASE("host volumes: overlay never follows a symlink or a file carrying a volume's name", "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  make_dir(scratch / "base");
  make_dir(scratch / "outside");
  write_text(scratch / "outside/sentinel", "keep");
  make_dir(scratch / "overlay", 0700);
  const std::string link_name = "hosttest-00000000000000b2";
  REQUIRE(::symlink((scratch / "outside").c_str(), (scratch / "overlay/" + link_name).c_str()) == 0);
  write_text(scratch / "overlay/hosttest-00000000000000b3", "a file");
  OverlayVolumes volumes(scratch / "overlay");
  CHECK(volumes.remove(link_name).code() == ENOTDIR);
  CHECK(volumes.remove("hosttest-00000000000000b3").code() == ENOTDIR);
  CHECK(read_text(scratch / "outside/sentinel") == "keep");
  auto listed = volumes.list("hosttest-");
  REQUIRE(listed);
  CHECK(listed->empty());
}

TEST_CASE("host volumes: a volume whose origin record is missing lists as a snapshot of '?'", "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  make_dir(scratch / "base");
  OverlayVolumes volumes(scratch / "overlay");
  REQUIRE(volumes.snapshot(scratch / "base", kName));
  REQUIRE(::unlink((scratch / "overlay/" + kName + "/origin").c_str()) == 0);
  auto listed = volumes.list("hosttest-");
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().origin == "?");
  CHECK_FALSE(listed->front().cut_short_empty);  // it holds its layers: only the origin's proof may remove it
  CHECK_FALSE(volumes.mount_spec(kName));
  REQUIRE(volumes.remove(kName));
}

// What `snapcell run` killed between create_volume's mkdir and its write of
// the origin leaves (crash_reap_test.sh met it on copy, one run in ~700).
TEST_CASE("host volumes: a volume cut short before its origin was recorded lists as empty only while it holds nothing",
          "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  make_dir(scratch / "copies");
  CopyVolumes volumes(scratch / "copies");
  const std::string volume = scratch / ("copies/" + kName);
  auto listed_one = [&] {
    auto listed = volumes.list("hosttest-");
    REQUIRE(listed);
    REQUIRE(listed->size() == 1);
    CHECK(listed->front().origin == "?");
    return listed->front();
  };
  make_dir(volume);
  CHECK(listed_one().cut_short_empty);
  write_text(volume + "/origin", "");
  CHECK(listed_one().cut_short_empty);
  write_text(volume + "/tree", "");
  CHECK_FALSE(listed_one().cut_short_empty);
  REQUIRE(::unlink((volume + "/tree").c_str()) == 0);
  REQUIRE(::unlink((volume + "/origin").c_str()) == 0);
  REQUIRE(::symlink("/etc/hostname", (volume + "/origin").c_str()) == 0);
  CHECK_FALSE(listed_one().cut_short_empty);  // a symlink is never taken for the empty record
  REQUIRE(::unlink((volume + "/origin").c_str()) == 0);
  make_dir(volume + "/origin");
  CHECK_FALSE(listed_one().cut_short_empty);
  REQUIRE(::rmdir((volume + "/origin").c_str()) == 0);
  REQUIRE(volumes.remove(kName));
  CHECK(::access(volume.c_str(), F_OK) != 0);
}

// ---- copy ----------------------------------------------------------------------

TEST_CASE("host volumes: full copy snapshot mounts as a bind mount of its own tmpfs, takes writes and is removed",
          "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  make_dir(scratch / "base");
  fill_base(scratch / "base");
  make_dir(scratch / "run", 0700);
  // The copies beside the run dir, on the same filesystem: each copy's
  // tmpfs is a filesystem of its own, so the proof still sees a device of
  // its own at the mount point.
  CopyVolumes volumes(scratch / "copies");
  auto spec = volumes.snapshot(scratch / "base", "hosttest-00000000000000c1");
  REQUIRE(spec);
  CHECK(spec->fs_type == "bind");
  CHECK(spec->source == "snapcell-copy:hosttest-00000000000000c1");  // the copy's tmpfs, as mountinfo names it
  CHECK(spec->root == "/");
  CHECK(spec->options == scratch / "copies/hosttest-00000000000000c1/tree");
  REQUIRE(volumes.remove("hosttest-00000000000000c1"));
  CHECK(identity_on_top(scratch / "copies/hosttest-00000000000000c1/tree") == "<none>");
  round_trip(volumes, scratch / "base", scratch / "run");
}

// Writes `bytes` to a new file; the errno of the first failed write, or 0.
int write_bytes(const std::string& path, std::size_t bytes) {
  snapcell::linux_sys::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  REQUIRE(fd.valid());
  const std::string chunk(64 * 1024, 'x');
  for (std::size_t written = 0; written < bytes;) {
    const ssize_t n = ::write(fd.get(), chunk.data(), std::min(chunk.size(), bytes - written));
    if (n < 0) return errno;
    written += static_cast<std::size_t>(n);
  }
  return 0;
}

TEST_CASE("host volumes: a copy's tmpfs holds the copy plus the write cap, and stays while a bind of it is mounted",
          "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  make_dir(scratch / "base");
  fill_base(scratch / "base");
  REQUIRE(write_bytes(scratch / "base/payload", 3 << 20) == 0);  // the copy is bigger than the cap
  make_dir(scratch / "run", 0700);
  CopyVolumes volumes(scratch / "copies", 1 << 20);
  SyscallMounter mounter;
  auto spec = volumes.snapshot(scratch / "base", kName);
  REQUIRE(spec);
  const std::string mount_point = scratch / "run/" + kName;
  REQUIRE(mounter.make_dir(mount_point));
  REQUIRE(mounter.mount(*spec, mount_point));
  CHECK(read_text(mount_point + "/payload").size() == 3 << 20);
  CHECK(write_bytes(mount_point + "/within-cap", 512 << 10) == 0);
  CHECK(write_bytes(mount_point + "/past-cap", 1 << 20) == ENOSPC);

  // The bind still holds the copy's filesystem: its tmpfs is not unmounted.
  const std::string tree = scratch / "copies/" + kName + "/tree";
  CHECK(volumes.remove(kName).code() == EBUSY);
  CHECK(identity_on_top(tree) == snapcell::mount_identity(CopyVolumes::source_of(kName), "/"));
  REQUIRE(mounter.unmount(mount_point, snapcell::UnmountMode::plain));
  REQUIRE(volumes.remove(kName));
  CHECK(identity_on_top(tree) == "<none>");
  CHECK_FALSE(exists(scratch / "copies/" + kName));
}

TEST_CASE("host volumes: a copy's removal refuses a mount at its tree that is not its own tmpfs", "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  make_dir(scratch / "base");
  fill_base(scratch / "base");
  CopyVolumes volumes(scratch / "copies");
  REQUIRE(volumes.snapshot(scratch / "base", kName));
  const std::string tree = scratch / "copies/" + kName + "/tree";
  REQUIRE(::mount("snapcell-host-intruder", tree.c_str(), "tmpfs", 0, "size=1m") == 0);
  auto refused = volumes.remove(kName);
  CHECK(refused.code() == EBUSY);
  CHECK_THAT(refused.error().message(), Catch::Contains("snapcell-host-intruder"));
  CHECK(identity_on_top(tree) == snapcell::mount_identity("snapcell-host-intruder", "/"));  // left as it was
  REQUIRE(::umount2(tree.c_str(), UMOUNT_NOFOLLOW) == 0);
  REQUIRE(volumes.remove(kName));
  CHECK_FALSE(exists(scratch / "copies/" + kName));
}

// A copy for a user namespace (issue 13, item 1): its owners are written
// shifted into the namespace's range, so root of it owns the copy without
// an idmapped mount (a tmpfs takes one from Linux 6.3); the base keeps its
// owners; an owner the range does not hold is refused naming the file, and
// nothing of the volume is left.
TEST_CASE("host volumes: a shifted copy owns its files as the range's ids and refuses an owner beyond the range",
          "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  make_dir(scratch / "base");
  fill_base(scratch / "base");
  write_text(scratch / "base/users-file", "u");
  REQUIRE(::chown((scratch / "base/users-file").c_str(), 1000, 1001) == 0);
  REQUIRE(::symlink("users-file", (scratch / "base/link").c_str()) == 0);
  REQUIRE(::lchown((scratch / "base/link").c_str(), 7, 8) == 0);
  constexpr std::uint32_t first = 3'300'065'536u;
  CopyVolumes volumes(scratch / "copies", 1 << 20, snapcell::IdRange{first, 65'536});
  auto spec = volumes.snapshot(scratch / "base", kName);
  REQUIRE(spec);
  CHECK(spec->shows_shifted_ids);  // what the Session passes on for the sandbox to enter it as it is
  const std::string tree = scratch / "copies/" + kName + "/tree";
  struct stat st {};
  REQUIRE(::stat(tree.c_str(), &st) == 0);
  CHECK(st.st_uid == first);
  CHECK(st.st_gid == first);
  REQUIRE(::stat((tree + "/users-file").c_str(), &st) == 0);
  CHECK(st.st_uid == first + 1000);
  CHECK(st.st_gid == first + 1001);
  REQUIRE(::lstat((tree + "/link").c_str(), &st) == 0);
  CHECK(st.st_uid == first + 7);
  REQUIRE(::stat((scratch / "base/users-file").c_str(), &st) == 0);
  CHECK(st.st_uid == 1000);  // the base keeps its own
  REQUIRE(volumes.remove(kName));

  REQUIRE(::chown((scratch / "base/users-file").c_str(), 100'000, 1001) == 0);
  auto refused = volumes.snapshot(scratch / "base", kName);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message(), Catch::Contains("users-file"));
  CHECK_THAT(refused.error().message(), Catch::Contains("beyond the 65536 ids"));
  CHECK_FALSE(exists(scratch / "copies/" + kName));
  CHECK(identity_on_top(tree) == "<none>");
  CHECK_THROWS_AS(CopyVolumes(scratch / "copies", 1 << 20, snapcell::IdRange{0, 10}), snapcell::Failure);
}

TEST_CASE("host volumes: copy_tree keeps modes, owners, symlinks, device nodes and timestamps", "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  const std::string src = scratch / "src";
  make_dir(src, 0750);
  make_dir(src + "/dir", 0555);  // filled before its mode is set
  write_text(src + "/setuid", "#!/bin/true\n");
  REQUIRE(::chown((src + "/setuid").c_str(), 12, 34) == 0);
  REQUIRE(::chmod((src + "/setuid").c_str(), 04755) == 0);
  REQUIRE(::mknod((src + "/null").c_str(), S_IFCHR | 0620, makedev(1, 3)) == 0);
  REQUIRE(::chown((src + "/null").c_str(), 0, 5) == 0);
  REQUIRE(::mkfifo((src + "/fifo").c_str(), 0640) == 0);
  REQUIRE(::symlink("/etc/passwd", (src + "/abs-link").c_str()) == 0);
  REQUIRE(::lchown((src + "/abs-link").c_str(), 77, 88) == 0);
  const struct timespec old_times[2] = {{1000000000, 123}, {1100000000, 456789}};
  for (const char* name : {"/setuid", "/null", "/fifo", "/abs-link"})
    REQUIRE(::utimensat(AT_FDCWD, (src + name).c_str(), old_times, AT_SYMLINK_NOFOLLOW) == 0);
  write_text(src + "/dir-file", "x");
  REQUIRE(::rename((src + "/dir-file").c_str(), (src + "/dir/file").c_str()) == 0);
  REQUIRE(::chmod((src + "/dir").c_str(), 0555) == 0);
  REQUIRE(::utimensat(AT_FDCWD, (src + "/dir").c_str(), old_times, 0) == 0);

  REQUIRE(snapcell::linux_sys::copy_tree(src, scratch / "dst"));
  CHECK(snapcell::linux_sys::copy_tree(src, scratch / "dst").code() == EEXIST);

  auto same = [&](const std::string& leaf) {
    struct stat a {}, b {};
    REQUIRE(::lstat((src + leaf).c_str(), &a) == 0);
    REQUIRE(::lstat((scratch / "dst" + leaf).c_str(), &b) == 0);
    INFO(leaf);
    CHECK(a.st_mode == b.st_mode);
    CHECK(a.st_uid == b.st_uid);
    CHECK(a.st_gid == b.st_gid);
    CHECK(a.st_rdev == b.st_rdev);
    CHECK(a.st_mtim.tv_sec == b.st_mtim.tv_sec);
    CHECK(a.st_mtim.tv_nsec == b.st_mtim.tv_nsec);
    CHECK(a.st_size == b.st_size);
  };
  for (const char* leaf : {"", "/dir", "/dir/file", "/setuid", "/null", "/fifo", "/abs-link"}) same(leaf);
  CHECK(read_text(scratch / "dst/dir/file") == "x");
  char target[64] = {};
  REQUIRE(::readlink((scratch / "dst/abs-link").c_str(), target, sizeof target - 1) > 0);
  CHECK(std::string(target) == "/etc/passwd");
}

TEST_CASE("host volumes: copy_tree refuses to copy a tree into itself or across a mount inside it", "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  make_dir(scratch / "src");
  CHECK(snapcell::linux_sys::copy_tree(scratch / "src", scratch / "src/inside").code() == EINVAL);
  make_dir(scratch / "src2");
  make_dir(scratch / "src2/mnt");
  REQUIRE(::mount("snapcell-host-inner", (scratch / "src2/mnt").c_str(), "tmpfs", 0, nullptr) == 0);
  CHECK(snapcell::linux_sys::copy_tree(scratch / "src2", scratch / "dst2").code() == EBUSY);
  REQUIRE(::umount2((scratch / "src2/mnt").c_str(), UMOUNT_NOFOLLOW) == 0);
}

// ---- btrfs ---------------------------------------------------------------------

TEST_CASE("host volumes: btrfs snapshot on a loop device mounts, takes writes and is removed, no loop device is left",
          "[host]") {
  HOST_REQUIRE_ROOT();
  HOST_REQUIRE_LOOP_BTRFS();
  Scratch scratch;
  make_dir(scratch / "run", 0700);
  std::string image;
  {
    LoopBtrfs loop(scratch.path());
    image = loop.image;
    CHECK(loop.attached());
    CHECK(loop_devices_backed_by(image) == std::vector<std::string>{loop.device});
    fill_base(loop.base);
    BtrfsVolumes volumes(loop.snapshots);

    auto spec = volumes.snapshot(loop.base, kName);
    REQUIRE(spec);
    CHECK(spec->source == loop.device);
    CHECK(spec->fs_type == "btrfs");
    CHECK(spec->root == "/snapshots/" + kName);
    CHECK(spec->options.rfind("subvolid=", 0) == 0);
    REQUIRE(volumes.remove(kName));

    round_trip(volumes, loop.base, scratch / "run");

    // An origin that is not a subvolume, or not on btrfs, is refused.
    make_dir(loop.mount_point + "/plain");
    CHECK(volumes.snapshot(loop.mount_point + "/plain", kName).code() == EINVAL);
    make_dir(scratch / "not-btrfs");
    CHECK(volumes.snapshot(scratch / "not-btrfs", kName).code() == EINVAL);
    CHECK(volumes.snapshot(loop.mount_point + "/missing", kName).code() == ENOENT);
    // The origin itself is never listed as a snapshot, and a plain directory
    // carrying a volume's name is not a volume.
    make_dir(loop.snapshots + "/hosttest-00000000000000d4");
    auto listed = volumes.list("");
    REQUIRE(listed);
    CHECK(listed->empty());
    CHECK(volumes.remove("hosttest-00000000000000d4").code() == EINVAL);
    REQUIRE(loop.close());
    CHECK_FALSE(loop.attached());
  }
  CHECK(loop_devices_backed_by(image).empty());
  CHECK_FALSE(exists(image));
}

TEST_CASE("host volumes: a btrfs snapshot capped by a qgroup refuses writes past the cap with EDQUOT, the base "
          "is unchanged and the qgroup goes with the snapshot",
          "[host]") {
  HOST_REQUIRE_ROOT();
  HOST_REQUIRE_LOOP_BTRFS();
  Scratch scratch;
  LoopBtrfs loop(scratch.path(), 256, LoopBtrfs::Quotas::enabled);
  fill_base(loop.base);
  constexpr std::uint64_t cap_mib = 16;
  BtrfsVolumes volumes(loop.snapshots, cap_mib << 20);
  REQUIRE(volumes.snapshot(loop.base, kName));
  const std::string snapshot = loop.snapshots + "/" + kName;

  auto snapshot_fd = snapcell::linux_sys::open_fd(snapshot, O_RDONLY | O_DIRECTORY);
  REQUIRE(snapshot_fd);
  auto id = snapcell::linux_sys::btrfs::subvolume_id(snapshot_fd->get(), snapshot);
  REQUIRE(id);
  snapshot_fd->reset();
  const std::string qgroup = qgroup_sysfs_dir(loop.mount_point, *id);
  REQUIRE(exists(qgroup));
  CHECK(read_text(qgroup + "/max_exclusive") == std::to_string(cap_mib << 20) + "\n");

  // Under the cap: written. Past it: refused, with EDQUOT (what 6.18 gives,
  // at the write or at the open of the next file), well before the bound.
  const Written under = write_mib(snapshot + "/under", 4);
  CHECK(under.error == 0);
  CHECK(under.mib == 4);
  const Written past = write_mib(snapshot + "/past", 64);
  CHECK(past.error == EDQUOT);
  CHECK(past.mib <= cap_mib);
  CHECK(read_text(loop.base + "/etc/hostname") == "base\n");
  CHECK_FALSE(exists(loop.base + "/under"));
  CHECK_FALSE(exists(loop.base + "/past"));

  REQUIRE(volumes.remove(kName));
  CHECK_FALSE(exists(snapshot));
  auto listed = volumes.list("");
  REQUIRE(listed);
  CHECK(listed->empty());
  // The qgroup outlives SNAP_DESTROY until the cleaner has dropped the
  // subvolume; the kernel then deletes it itself. A sync commits the
  // transaction, which wakes the cleaner: no stale qgroup piles up.
  auto root = snapcell::linux_sys::open_fd(loop.mount_point, O_RDONLY | O_DIRECTORY);
  REQUIRE(root);
  REQUIRE(::ioctl(root->get(), BTRFS_IOC_SYNC, nullptr) == 0);
  for (int i = 0; i < 200 && exists(qgroup); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_FALSE(exists(qgroup));
  root->reset();
  REQUIRE(loop.close());
}

TEST_CASE("host volumes: a capped btrfs snapshot on a filesystem without quotas fails saying so and leaves no "
          "snapshot, an uncapped one works as before",
          "[host]") {
  HOST_REQUIRE_ROOT();
  HOST_REQUIRE_LOOP_BTRFS();
  Scratch scratch;
  LoopBtrfs loop(scratch.path());
  fill_base(loop.base);
  BtrfsVolumes capped(loop.snapshots, 16ull << 20);
  auto refused = capped.snapshot(loop.base, kName);
  REQUIRE_FALSE(refused);
  CHECK(refused.code() == ENOTCONN);
  CHECK_THAT(refused.error().message(), Catch::Contains("BTRFS_IOC_QGROUP_LIMIT") &&
                                            Catch::Contains(kName) &&
                                            Catch::Contains("quotas are not enabled") &&
                                            Catch::Contains("btrfs quota enable"));
  CHECK_FALSE(exists(loop.snapshots + "/" + kName));
  auto listed = capped.list("");
  REQUIRE(listed);
  CHECK(listed->empty());

  BtrfsVolumes uncapped(loop.snapshots);
  REQUIRE(uncapped.snapshot(loop.base, kName));
  REQUIRE(uncapped.remove(kName));
  CHECK_THROWS_AS(BtrfsVolumes(loop.snapshots, 0), snapcell::Failure);
  REQUIRE(loop.close());
}

// ---- tree ----------------------------------------------------------------------

TEST_CASE("host volumes: remove_tree_at refuses to cross a mount point inside the tree", "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  make_dir(scratch / "tree");
  make_dir(scratch / "tree/a");
  make_dir(scratch / "tree/a/mnt");
  REQUIRE(::mount("snapcell-host-inner", (scratch / "tree/a/mnt").c_str(), "tmpfs", 0, nullptr) == 0);
  write_text(scratch / "tree/a/mnt/precious", "keep");
  // A bind mount of a directory on the same filesystem: same st_dev, other mount.
  make_dir(scratch / "elsewhere");
  write_text(scratch / "elsewhere/precious", "keep");
  make_dir(scratch / "tree/bound");
  REQUIRE(::mount((scratch / "elsewhere").c_str(), (scratch / "tree/bound").c_str(), nullptr, MS_BIND, nullptr) == 0);

  auto parent = snapcell::linux_sys::open_directory(scratch.path(), false);
  REQUIRE(parent);
  Status removed = snapcell::linux_sys::remove_tree_at(parent->get(), "tree");
  REQUIRE_FALSE(removed);
  CHECK(removed.code() == EBUSY);
  CHECK_THAT(removed.error().target, Catch::Contains("tree/"));
  CHECK(read_text(scratch / "tree/a/mnt/precious") == "keep");
  CHECK(read_text(scratch / "elsewhere/precious") == "keep");

  REQUIRE(::umount2((scratch / "tree/a/mnt").c_str(), UMOUNT_NOFOLLOW) == 0);
  CHECK(snapcell::linux_sys::remove_tree_at(parent->get(), "tree").code() == EBUSY);
  CHECK(read_text(scratch / "elsewhere/precious") == "keep");
  REQUIRE(::umount2((scratch / "tree/bound").c_str(), UMOUNT_NOFOLLOW) == 0);
  REQUIRE(snapcell::linux_sys::remove_tree_at(parent->get(), "tree"));
  CHECK_FALSE(exists(scratch / "tree"));

  // The top itself a mount point: refused before anything is removed.
  make_dir(scratch / "top");
  REQUIRE(::mount("snapcell-host-inner", (scratch / "top").c_str(), "tmpfs", 0, nullptr) == 0);
  write_text(scratch / "top/precious", "keep");
  CHECK(snapcell::linux_sys::remove_tree_at(parent->get(), "top").code() == EBUSY);
  CHECK(read_text(scratch / "top/precious") == "keep");
  REQUIRE(::umount2((scratch / "top").c_str(), UMOUNT_NOFOLLOW) == 0);
}

TEST_CASE("host volumes: remove_tree_at removes a symlink to the outside, never what it points to", "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  make_dir(scratch / "outside");
  write_text(scratch / "outside/sentinel", "keep");
  make_dir(scratch / "tree");
  make_dir(scratch / "tree/sub");
  REQUIRE(::symlink((scratch / "outside/sentinel").c_str(), (scratch / "tree/sub/file-link").c_str()) == 0);
  REQUIRE(::symlink((scratch / "outside").c_str(), (scratch / "tree/dir-link").c_str()) == 0);
  make_dir(scratch / "tree/locked", 0);  // like overlayfs's work/work
  make_dir(scratch / "tree/locked/inner", 0);
  REQUIRE(::chmod((scratch / "tree/locked").c_str(), 0) == 0);
  REQUIRE(::mkfifo((scratch / "tree/fifo").c_str(), 0600) == 0);

  auto parent = snapcell::linux_sys::open_directory(scratch.path(), false);
  REQUIRE(parent);
  REQUIRE(snapcell::linux_sys::remove_tree_at(parent->get(), "tree"));
  CHECK_FALSE(exists(scratch / "tree"));
  CHECK(read_text(scratch / "outside/sentinel") == "keep");

  // A symlink as the top is removed as a link.
  REQUIRE(::symlink((scratch / "outside").c_str(), (scratch / "top-link").c_str()) == 0);
  REQUIRE(snapcell::linux_sys::remove_tree_at(parent->get(), "top-link"));
  CHECK(read_text(scratch / "outside/sentinel") == "keep");
  CHECK(snapcell::linux_sys::remove_tree_at(parent->get(), "absent").code() == ENOENT);
  CHECK_FALSE(snapcell::linux_sys::remove_tree_at(parent->get(), "../outside"));
  CHECK(read_text(scratch / "outside/sentinel") == "keep");
}

TEST_CASE("host volumes: place_in_filesystem maps a directory onto its mount's root", "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  make_dir(scratch / "a");
  make_dir(scratch / "a/b");
  make_dir(scratch / "view");
  REQUIRE(::mount((scratch / "a").c_str(), (scratch / "view").c_str(), nullptr, MS_BIND, nullptr) == 0);
  auto direct = snapcell::linux_sys::place_in_filesystem(scratch / "a/b");
  REQUIRE(direct);
  CHECK(direct->root == "/a/b");
  CHECK(direct->mount.source == "snapcell-host-test");
  auto through_bind = snapcell::linux_sys::place_in_filesystem(scratch / "view/b");
  REQUIRE(through_bind);
  CHECK(through_bind->root == "/a/b");  // the bind mount's root "/a" plus "/b"
  auto top = snapcell::linux_sys::place_in_filesystem(scratch.path());
  REQUIRE(top);
  CHECK(top->root == "/");
  REQUIRE(::umount2((scratch / "view").c_str(), UMOUNT_NOFOLLOW) == 0);
}
