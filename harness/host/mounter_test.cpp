// Host integration (root): SyscallMounter on the kernel. The facts it
// gathers must let decide_ownership accept a real mount and refuse a bare
// directory (the field's collateral-kill seed); holders must find exactly the
// processes that keep a mount busy; unmount must be EBUSY while they do.

#include "host/support.hpp"
#include "snapcell/linux/btrfs_volumes.hpp"
#include "snapcell/linux/loop_btrfs.hpp"
#include "snapcell/linux/overlay_volumes.hpp"
#include "snapcell/linux/syscall_mounter.hpp"
#include "snapcell/ownership.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

using snapcell::MountSpec;
using snapcell::Pid;
using snapcell::UnmountMode;
using snapcell::linux_sys::OverlayVolumes;
using snapcell::linux_sys::SyscallMounter;
using snapcell::testing::make_dir;
using snapcell::testing::write_text;

namespace {

// Room for a btrfs image on a loop device.
struct Scratch : snapcell::testing::Scratch {
  Scratch() : snapcell::testing::Scratch({.prefix = "snapcell-policies", .tmpfs = "mode=0700,size=1g"}) {}
};

// A small tmpfs named `source` on the existing directory `path`: these tests
// look for the name (support.hpp's mount_tmpfs names them all alike).
void mount_tmpfs(const std::string& source, const std::string& path) {
  if (::mount(source.c_str(), path.c_str(), "tmpfs", 0, "size=1m") != 0)
    throw std::runtime_error("mount tmpfs on " + path + ": " + std::strerror(errno));
}

const snapcell::linux_text::MountInfoEntry* entry_on_top(const std::vector<snapcell::linux_text::MountInfoEntry>& mounts,
                                                        const std::string& path) {
  const snapcell::linux_text::MountInfoEntry* top = nullptr;
  for (const auto& entry : mounts)
    if (entry.mount_point == path) top = &entry;
  return top;
}

// A forked child that keeps a mount busy (its cwd in it, or a file of it
// open) until killed; killed and reaped on destruction.
class Holder {
 public:
  enum class How { cwd, open_file };

  Holder(How how, const std::string& path) {
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      ::close(ready[0]);
      bool ok = how == How::cwd ? ::chdir(path.c_str()) == 0
                                : ::open(path.c_str(), O_RDONLY) >= 0 && ::chdir("/") == 0;  // fd kept, cwd elsewhere
      char byte = ok ? '1' : '0';
      (void)!::write(ready[1], &byte, 1);
      while (true) ::pause();
    }
    ::close(ready[1]);
    char byte = 0;
    const bool ok = ::read(ready[0], &byte, 1) == 1 && byte == '1';
    ::close(ready[0]);
    if (!ok) {
      stop();
      throw std::runtime_error("the holder could not take " + path);
    }
  }
  Holder(const Holder&) = delete;
  Holder& operator=(const Holder&) = delete;
  ~Holder() { stop(); }

  Pid pid() const { return pid_; }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  Pid pid_ = -1;
};

bool contains(const std::vector<Pid>& pids, Pid pid) { return std::find(pids.begin(), pids.end(), pid) != pids.end(); }

}  // namespace

TEST_CASE("host mounter: make_dir is exclusive, list_dir lists, remove_dir removes, a missing path is ENOENT", "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  SyscallMounter mounter;
  REQUIRE(mounter.make_dir(scratch / "mp"));
  struct stat st {};
  REQUIRE(::stat((scratch / "mp").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);
  CHECK(mounter.make_dir(scratch / "mp").code() == EEXIST);
  write_text(scratch / "file", "");
  auto listed = mounter.list_dir(scratch.path());
  REQUIRE(listed);
  CHECK(*listed == std::vector<std::string>{"file", "mp"});
  CHECK(mounter.list_dir(scratch / "missing").code() == ENOENT);
  CHECK(mounter.facts(scratch / "missing").code() == ENOENT);
  REQUIRE(mounter.remove_dir(scratch / "mp"));
  CHECK(mounter.remove_dir(scratch / "mp").code() == ENOENT);
  CHECK_FALSE(mounter.make_dir("relative"));
  CHECK_FALSE(mounter.make_dir("/"));
  CHECK_FALSE(mounter.unmount("/", UnmountMode::detach));
}

TEST_CASE("host mounter: facts prove a real mount and refuse the bare directory a failed snapshot leaves", "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  SyscallMounter mounter;
  make_dir(scratch / "run", 0700);
  make_dir(scratch / "run/mounted", 0700);
  make_dir(scratch / "run/bare", 0700);
  mount_tmpfs("snapcell-host-facts", scratch / "run/mounted");

  auto facts = mounter.facts(scratch / "run/mounted");
  REQUIRE(facts);
  REQUIRE(facts->mounts_at_path.size() == 1);
  CHECK(facts->mounts_at_path.front().source == "snapcell-host-facts");
  CHECK(facts->mounts_at_path.front().fs_type == "tmpfs");
  CHECK(facts->mounts_at_path.front().root == "/");
  CHECK(facts->mounts_at_path.front().device == facts->path_device);  // tmpfs: mountinfo's device is stat's
  CHECK(facts->path_device != facts->parent_device);
  auto proof = snapcell::decide_ownership(scratch / "run/mounted", *facts, "snapcell-host-facts");
  REQUIRE(proof);
  CHECK(proof->device == facts->path_device);
  CHECK_FALSE(snapcell::decide_ownership(scratch / "run/mounted", *facts, "snapcell-host-other"));

  // The seed: the snapshot never happened, the mount never happened, the
  // mount point is a plain directory. It must not pass for the mount.
  auto bare = mounter.facts(scratch / "run/bare");
  REQUIRE(bare);
  CHECK(snapcell::is_plain_directory(*bare));
  auto refused = snapcell::decide_ownership(scratch / "run/bare", *bare, "snapcell-host-facts");
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().detail, Catch::Contains("is not a mount point"));

  // And a bare directory on the root filesystem is refused as such.
  auto on_root = mounter.facts("/tmp");
  REQUIRE(on_root);
  if (on_root->path_device == on_root->root_device) {
    auto root_refused = snapcell::decide_ownership("/tmp", *on_root, "snapcell-host-facts");
    REQUIRE_FALSE(root_refused);
    CHECK_THAT(root_refused.error().detail, Catch::Contains("root filesystem"));
  }

  // Submounts are listed below; a mount stacked on top is what counts.
  make_dir(scratch / "run/mounted/sub");
  mount_tmpfs("snapcell-host-sub", scratch / "run/mounted/sub");
  facts = mounter.facts(scratch / "run/mounted");
  REQUIRE(facts);
  REQUIRE(facts->mounts_below.size() == 1);
  CHECK(facts->mounts_below.front().target == scratch / "run/mounted/sub");
  CHECK(snapcell::decide_ownership(scratch / "run/mounted", *facts, "snapcell-host-facts"));
  REQUIRE(::umount2((scratch / "run/mounted/sub").c_str(), 0) == 0);
  mount_tmpfs("snapcell-host-intruder", scratch / "run/mounted");
  facts = mounter.facts(scratch / "run/mounted");
  REQUIRE(facts);
  REQUIRE(facts->mounts_at_path.size() == 2);
  CHECK(facts->mounts_at_path.back().source == "snapcell-host-intruder");
  auto stacked = snapcell::decide_ownership(scratch / "run/mounted", *facts, "snapcell-host-facts");
  REQUIRE_FALSE(stacked);
  CHECK_THAT(stacked.error().detail, Catch::Contains("snapcell-host-intruder"));
}

TEST_CASE("host mounter: mounts are nosuid, nodev and private, binds take their directory from options", "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  SyscallMounter mounter;
  make_dir(scratch / "tree");
  write_text(scratch / "tree/file", "in the tree");
  make_dir(scratch / "mp", 0700);
  MountSpec bind{"snapcell-host-test", "bind", scratch / "tree", "/tree"};
  REQUIRE(mounter.mount(bind, scratch / "mp"));
  auto mounts = snapcell::linux_sys::read_mountinfo();
  REQUIRE(mounts);
  const auto* top = entry_on_top(*mounts, scratch / "mp");
  REQUIRE(top);
  CHECK(snapcell::mount_identity(top->source, top->root) == "snapcell-host-test[/tree]");
  CHECK_THAT(top->mount_options, Catch::Contains("nosuid") && Catch::Contains("nodev"));
  for (const auto& field : top->optional_fields) CHECK(field.rfind("shared:", 0) != 0);
  REQUIRE(mounter.unmount(scratch / "mp", UnmountMode::plain));
  CHECK(mounter.unmount(scratch / "mp", UnmountMode::plain).code() == EINVAL);  // not a mount any more

  // Never onto a symlink, never unmounting through one.
  REQUIRE(::symlink((scratch / "mp").c_str(), (scratch / "link").c_str()) == 0);
  CHECK(mounter.mount(MountSpec{"snapcell-host-x", "tmpfs", "", "/"}, scratch / "link").code() == ELOOP);
  REQUIRE(mounter.mount(MountSpec{"snapcell-host-x", "tmpfs", "size=1m", "/"}, scratch / "mp"));
  CHECK_FALSE(mounter.unmount(scratch / "link", UnmountMode::detach));
  mounts = snapcell::linux_sys::read_mountinfo();
  REQUIRE(mounts);
  CHECK(entry_on_top(*mounts, scratch / "mp") != nullptr);
  REQUIRE(mounter.unmount(scratch / "mp", UnmountMode::plain));
  CHECK_FALSE(mounter.mount(MountSpec{"x", "bind", "relative", "/"}, scratch / "mp"));
}

TEST_CASE("host mounter: holders finds the process whose cwd is in the mount and no other, EBUSY until detached",
          "[host]") {
  HOST_REQUIRE_ROOT();
  HOST_REQUIRE_FILESYSTEM("overlay");
  Scratch scratch;
  SyscallMounter mounter;
  make_dir(scratch / "base");
  make_dir(scratch / "base/etc");
  write_text(scratch / "base/etc/hostname", "base\n");
  make_dir(scratch / "run", 0700);
  OverlayVolumes volumes(scratch / "overlay");
  const std::string name = "hosttest-00000000000000e1";
  const std::string mount_point = scratch / "run/" + name;
  auto spec = volumes.snapshot(scratch / "base", name);
  REQUIRE(spec);
  REQUIRE(mounter.make_dir(mount_point));
  REQUIRE(mounter.mount(*spec, mount_point));
  auto facts = mounter.facts(mount_point);
  REQUIRE(facts);
  REQUIRE(snapcell::decide_ownership(mount_point, *facts, spec->source));

  {
    Holder inside(Holder::How::cwd, mount_point + "/etc");
    Holder in_the_lower_layer(Holder::How::cwd, scratch / "base/etc");  // same files, another device
    Holder on_the_parent(Holder::How::cwd, scratch / "run");
    auto holders = mounter.holders(facts->path_device);
    REQUIRE(holders);
    CHECK(contains(*holders, inside.pid()));
    CHECK_FALSE(contains(*holders, in_the_lower_layer.pid()));
    CHECK_FALSE(contains(*holders, on_the_parent.pid()));
    CHECK_FALSE(contains(*holders, ::getpid()));
    CHECK(holders->size() == 1);

    CHECK(mounter.unmount(mount_point, UnmountMode::plain).code() == EBUSY);
    REQUIRE(mounter.unmount(mount_point, UnmountMode::detach));
    auto after = mounter.facts(mount_point);
    REQUIRE(after);
    CHECK(snapcell::is_plain_directory(*after));
  }
  REQUIRE(mounter.remove_dir(mount_point));
  REQUIRE(volumes.remove(name));
}

TEST_CASE("host mounter: holders finds an open file on overlayfs by its mount, though its st_dev is the layer's",
          "[host]") {
  HOST_REQUIRE_ROOT();
  HOST_REQUIRE_FILESYSTEM("overlay");
  Scratch scratch;
  SyscallMounter mounter;
  // The lower layer on a filesystem of its own: overlayfs then gives
  // non-directories a pseudo st_dev, neither the overlay's nor the layer's.
  make_dir(scratch / "lowerfs");
  mount_tmpfs("snapcell-host-lower", scratch / "lowerfs");
  make_dir(scratch / "lowerfs/base");
  write_text(scratch / "lowerfs/base/file", "lower\n");
  make_dir(scratch / "run", 0700);
  OverlayVolumes volumes(scratch / "overlay");
  const std::string name = "hosttest-00000000000000e2";
  const std::string mount_point = scratch / "run/" + name;
  auto spec = volumes.snapshot(scratch / "lowerfs/base", name);
  REQUIRE(spec);
  REQUIRE(mounter.make_dir(mount_point));
  REQUIRE(mounter.mount(*spec, mount_point));
  auto facts = mounter.facts(mount_point);
  REQUIRE(facts);
  struct stat file_st {};
  REQUIRE(::stat((mount_point + "/file").c_str(), &file_st) == 0);
  INFO("st_dev of a file " << file_st.st_dev << ", of the overlay's root " << facts->path_device);
  CHECK(file_st.st_dev != facts->path_device);  // the quirk this test is about
  {
    Holder reader(Holder::How::open_file, mount_point + "/file");
    auto holders = mounter.holders(facts->path_device);
    REQUIRE(holders);
    CHECK(*holders == std::vector<Pid>{reader.pid()});
    CHECK(mounter.unmount(mount_point, UnmountMode::plain).code() == EBUSY);
  }
  REQUIRE(mounter.unmount(mount_point, UnmountMode::plain));
  REQUIRE(mounter.remove_dir(mount_point));
  REQUIRE(volumes.remove(name));
}

TEST_CASE("host mounter: holders finds a process in a btrfs snapshot by the subvolume's own st_dev", "[host]") {
  HOST_REQUIRE_ROOT();
  HOST_REQUIRE_LOOP_BTRFS();
  Scratch scratch;
  SyscallMounter mounter;
  make_dir(scratch / "run", 0700);
  snapcell::linux_sys::LoopBtrfs loop(scratch.path());
  make_dir(loop.base + "/etc");
  snapcell::linux_sys::BtrfsVolumes volumes(loop.snapshots);
  const std::string name = "hosttest-00000000000000e3";
  const std::string mount_point = scratch / "run/" + name;
  auto spec = volumes.snapshot(loop.base, name);
  REQUIRE(spec);
  REQUIRE(mounter.make_dir(mount_point));
  REQUIRE(mounter.mount(*spec, mount_point));
  auto facts = mounter.facts(mount_point);
  REQUIRE(facts);
  REQUIRE(facts->mounts_at_path.size() == 1);
  CHECK(facts->mounts_at_path.front().device != facts->path_device);  // btrfs: one st_dev per subvolume
  REQUIRE(snapcell::decide_ownership(mount_point, *facts, snapcell::mount_identity(spec->source, spec->root)));
  {
    Holder inside(Holder::How::cwd, mount_point + "/etc");
    Holder in_the_base(Holder::How::cwd, loop.base + "/etc");  // same filesystem, another subvolume
    auto holders = mounter.holders(facts->path_device);
    REQUIRE(holders);
    CHECK(*holders == std::vector<Pid>{inside.pid()});
    CHECK(mounter.unmount(mount_point, UnmountMode::plain).code() == EBUSY);
  }
  REQUIRE(mounter.unmount(mount_point, UnmountMode::plain));
  REQUIRE(mounter.remove_dir(mount_point));
  REQUIRE(volumes.remove(name));
  REQUIRE(loop.close());
}

TEST_CASE("host mounter: /proc/PID/maps lines are parsed strictly", "[host]") {
  using snapcell::linux_sys::proc_maps::parse_maps_line;
  auto device = parse_maps_line("7f12a000-7f12b000 r-xp 00001000 fe:01 1234567    /usr/lib/x.so");
  REQUIRE(device);
  CHECK(device->major == 0xfe);
  CHECK(device->minor == 0x01);
  CHECK(parse_maps_line("7ffd1000-7ffd2000 rw-p 00000000 00:00 0                          [stack]"));
  CHECK(parse_maps_line("00400000-00401000 r--p 00000000 103:1f 42"));
  CHECK_FALSE(parse_maps_line(""));
  CHECK_FALSE(parse_maps_line("7f12a000-7f12b000 r-xp 00001000 fe:01"));
  CHECK_FALSE(parse_maps_line("7f12a000 r-xp 00001000 fe:01 1 /x"));
  CHECK_FALSE(parse_maps_line("7f12a000-7f12b000 r-x 00001000 fe:01 1 /x"));
  CHECK_FALSE(parse_maps_line("7f12a000-7f12b000 r-xp 00001000 fe-01 1 /x"));
  CHECK_FALSE(parse_maps_line("7f12a000-7f12b000 r-xp 00001000 f:1 1 /x"));
  CHECK_FALSE(parse_maps_line("7f12a000-7f12b000 r-xp 00001000 FE:01 1 /x"));
  CHECK_FALSE(parse_maps_line("7f12a000-7f12b000 r-xp 00001000 fe:01 x1 /x"));

  // Every line of our own maps reads.
  std::ifstream in("/proc/self/maps");
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    INFO(line);
    CHECK(parse_maps_line(line));
    ++lines;
  }
  CHECK(lines > 0);
}
