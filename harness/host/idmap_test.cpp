// Host integration (root): idmapped mounts (snapcell/linux/idmap.hpp) and
// the overlay volume over a shifted lower layer, the ground the sandbox's
// own user namespace stands on (issue 13, item 1). Each test proves both
// halves: root of the namespace owns, through the shifted view, what the
// host's root owns on disk, and without that view it owns nothing.

#include "host/support.hpp"
#include "snapcell/linux/idmap.hpp"
#include "snapcell/linux/overlay_volumes.hpp"
#include "snapcell/linux/tree.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

using snapcell::IdRange;
using snapcell::linux_sys::bind_idmapped;
using snapcell::linux_sys::make_id_namespace;
using snapcell::linux_sys::OverlayVolumes;
using snapcell::testing::make_dir;
using snapcell::testing::Scratch;
using snapcell::testing::write_text;

namespace {

// Far from the build uids (cli/build_uid.hpp) and every distribution range;
// nothing ever runs as these ids but the short forks below.
constexpr std::uint32_t kFirst = 3'300'000'000u;
constexpr IdRange kRange{kFirst, 65'536};

// Runs `act` in a fork that is root of `userns_fd`; returns the fork's exit
// status: 0 when `act` returned 0, else the step `act` (or the entry, 90+)
// failed at.
template <class Act>
int as_namespace_root(int userns_fd, Act act) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::setns(userns_fd, CLONE_NEWUSER) != 0) ::_exit(90);
    if (::syscall(SYS_setgroups, 0, nullptr) != 0) ::_exit(91);
    if (::syscall(SYS_setresgid, 0, 0, 0) != 0) ::_exit(92);
    if (::syscall(SYS_setresuid, 0, 0, 0) != 0) ::_exit(93);
    ::_exit(act());
  }
  REQUIRE(pid > 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct stat stat_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st;
}

// What a chown, a write or a copy-up into the base would change (ctime
// moves with every one of them, and no call sets it back).
std::string facts_of(const std::vector<std::string>& paths) {
  std::string facts;
  for (const auto& path : paths) {
    const struct stat st = stat_of(path);
    facts += fmt::format("{} {}:{} {:o} {} {}.{}", path, st.st_uid, st.st_gid, st.st_mode, st.st_size,
                         st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
    if (S_ISREG(st.st_mode)) {
      auto text = snapcell::linux_sys::read_file(path);
      facts += " " + (text ? *text : text.error().message());
    }
    facts += "\n";
  }
  return facts;
}

// Directories the namespace's root acts in, opened by the host's root: the
// scratch above them (mode 0700, the host root's) is closed to it, as a
// state dir is; the sandbox itself reaches its snapshot by pivot_root.
int open_dir(const std::string& path) {
  const int fd = ::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  return fd;
}

bool creates(int dir, const char* name) {
  const int fd = ::openat(dir, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

const snapcell::linux_text::MountInfoEntry* mount_at(const std::vector<snapcell::linux_text::MountInfoEntry>& mounts,
                                                      const std::string& path) {
  const snapcell::linux_text::MountInfoEntry* found = nullptr;
  for (const auto& entry : mounts)
    if (entry.mount_point == path) found = &entry;  // the last one is on top
  return found;
}

}  // namespace

TEST_CASE("host idmap: root of a user namespace owns a root-owned tree through an idmapped bind, and only there",
          "[host][idmap]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  const std::string volume = scratch / "volume", shown = scratch / "shown";
  make_dir(volume);
  make_dir(volume + "/d");
  write_text(volume + "/x", "base");
  make_dir(shown);
  auto userns = make_id_namespace(kRange);
  REQUIRE(userns);
  REQUIRE(bind_idmapped(volume, shown, userns->get(), false));

  auto mounts = snapcell::linux_sys::read_mountinfo();
  REQUIRE(mounts);
  const auto* bind = mount_at(*mounts, shown);
  REQUIRE(bind != nullptr);
  CHECK(bind->mount_options.find("idmapped") != std::string::npos);
  CHECK(bind->mount_options.find("nosuid") != std::string::npos);
  CHECK(bind->mount_options.find("nodev") != std::string::npos);
  // Seen by the host through the bind: the leased range, not root.
  CHECK(stat_of(shown + "/x").st_uid == kFirst);
  CHECK(stat_of(shown + "/x").st_gid == kFirst);
  CHECK(stat_of(volume + "/x").st_uid == 0);

  const int shown_fd = open_dir(shown), volume_fd = open_dir(volume);
  const int status = as_namespace_root(userns->get(), [&] {
    if (::fchownat(shown_fd, "x", 1000, 1000, AT_SYMLINK_NOFOLLOW) != 0) return 1;
    if (!creates(shown_fd, "new")) return 2;
    if (::mkdirat(shown_fd, "d/sub", 0755) != 0) return 3;
    // The same tree, not shifted: root of the namespace is nobody there.
    if (::fchownat(volume_fd, "x", 0, 0, AT_SYMLINK_NOFOLLOW) == 0 || errno != EPERM) return 4;
    if (creates(volume_fd, "forbidden") || errno != EACCES) return 5;
    return 0;
  });
  ::close(shown_fd);
  ::close(volume_fd);
  CHECK(status == 0);
  // On disk, the ids root of the namespace gave: shifted back.
  CHECK(stat_of(volume + "/x").st_uid == 1000);
  CHECK(stat_of(volume + "/new").st_uid == 0);
  CHECK(stat_of(volume + "/d/sub").st_uid == 0);
  CHECK(stat_of(shown + "/new").st_uid == kFirst);
  CHECK_FALSE(snapcell::testing::exists(volume + "/forbidden"));
  REQUIRE(::umount2(shown.c_str(), UMOUNT_NOFOLLOW) == 0);
}

TEST_CASE("host idmap: a read-only idmapped bind refuses every write, root of the namespace or not",
          "[host][idmap]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  const std::string volume = scratch / "volume", shown = scratch / "shown";
  make_dir(volume);
  write_text(volume + "/x", "base");
  make_dir(shown);
  auto userns = make_id_namespace(kRange);
  REQUIRE(userns);
  REQUIRE(bind_idmapped(volume, shown, userns->get(), true));
  CHECK(stat_of(shown + "/x").st_uid == kFirst);
  const int shown_fd = open_dir(shown);
  const int status = as_namespace_root(userns->get(), [&] {
    if (creates(shown_fd, "new") || errno != EROFS) return 1;
    if (::fchownat(shown_fd, "x", 5, 5, AT_SYMLINK_NOFOLLOW) == 0 || errno != EROFS) return 2;
    return 0;
  });
  CHECK(status == 0);
  CHECK_FALSE(creates(shown_fd, "by-host-root"));
  CHECK(errno == EROFS);
  CHECK(stat_of(volume + "/x").st_uid == 0);
  ::close(shown_fd);
  REQUIRE(::umount2(shown.c_str(), UMOUNT_NOFOLLOW) == 0);
}

// OverlayVolumes with a shift (the kernel refuses to idmap an overlay): the
// lower layer is the base through a read-only idmapped mount, the upper
// layer stores the shifted ids as they are, and the overlay is mounted by
// the host's root as any other. Root of the namespace writes, chowns,
// removes and recreates (opaque) through it; the base keeps everything;
// remove() refuses while the overlay is mounted and a foreign mount where
// the lower layer goes (I2), and takes the lower layer and the layers'
// tmpfs away otherwise.
TEST_CASE("host idmap: a shifted overlay volume takes root's writes, removals and chowns into its upper layer "
          "and leaves the base as it was",
          "[host][idmap]") {
  HOST_REQUIRE_ROOT();
  HOST_REQUIRE_FILESYSTEM("overlay");
  Scratch scratch;
  const std::string base = scratch / "base", merged = scratch / "merged";
  for (const auto& dir : {base, base + "/sub", base + "/sub/deep", merged}) make_dir(dir);
  write_text(base + "/x", "base");
  write_text(base + "/sub/deep/f", "deep");
  write_text(base + "/users-file", "user");
  REQUIRE(::chown((base + "/users-file").c_str(), 1000, 1000) == 0);
  const std::vector<std::string> base_paths{base, base + "/x", base + "/sub", base + "/sub/deep",
                                            base + "/sub/deep/f", base + "/users-file"};
  const std::string before = facts_of(base_paths);

  OverlayVolumes volumes(scratch / "volumes", 16ull << 20, kRange);
  auto spec = volumes.snapshot(base, "shifted");
  REQUIRE(spec);
  CHECK(spec->shows_shifted_ids);
  const std::string volume = scratch / "volumes/shifted";
  auto mounts = snapcell::linux_sys::read_mountinfo();
  REQUIRE(mounts);
  const auto* lower = mount_at(*mounts, volume + "/lower");
  REQUIRE(lower != nullptr);
  CHECK(lower->mount_options.find("ro,") == 0);
  CHECK(lower->mount_options.find("idmapped") != std::string::npos);
  CHECK_THAT(spec->options, Catch::Contains("lowerdir=" + volume + "/lower,"));
  REQUIRE(::mount(spec->source.c_str(), merged.c_str(), spec->fs_type.c_str(), MS_NOSUID | MS_NODEV,
                  spec->options.c_str()) == 0);
  mounts = snapcell::linux_sys::read_mountinfo();
  REQUIRE(mounts);
  const auto* entry = mount_at(*mounts, merged);
  REQUIRE(entry != nullptr);
  CHECK(entry->mount_options.find("rw") == 0);  // not overlay's read-only fallback
  CHECK(stat_of(merged).st_uid == kFirst);      // the upper root took the shifted base root's owner
  CHECK(stat_of(merged + "/x").st_uid == kFirst);
  CHECK(stat_of(merged + "/users-file").st_uid == kFirst + 1000);

  auto userns = make_id_namespace(kRange);
  REQUIRE(userns);
  const int merged_fd = open_dir(merged);
  const int status = as_namespace_root(userns->get(), [&] {
    const int fd = ::openat(merged_fd, "x", O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) return 1;
    const bool written = ::write(fd, "changed", 7) == 7;
    ::close(fd);
    if (!written) return 2;
    if (::fchownat(merged_fd, "x", 5, 5, AT_SYMLINK_NOFOLLOW) != 0) return 3;
    if (!creates(merged_fd, "new")) return 4;
    if (::unlinkat(merged_fd, "sub/deep/f", 0) != 0) return 5;
    if (::unlinkat(merged_fd, "sub/deep", AT_REMOVEDIR) != 0) return 6;
    if (::unlinkat(merged_fd, "sub", AT_REMOVEDIR) != 0) return 7;
    if (::mkdirat(merged_fd, "sub", 0755) != 0) return 8;  // opaque: the lower one must not show through
    if (::unlinkat(merged_fd, "users-file", 0) != 0) return 9;
    return 0;
  });
  ::close(merged_fd);
  CHECK(status == 0);
  CHECK(snapcell::testing::exists(merged + "/sub"));
  CHECK_FALSE(snapcell::testing::exists(merged + "/sub/deep"));
  CHECK_FALSE(snapcell::testing::exists(merged + "/users-file"));
  CHECK(stat_of(merged + "/x").st_uid == kFirst + 5);
  CHECK(stat_of(merged + "/new").st_uid == kFirst);
  // The upper layer holds the shifted ids as they are (it goes with the volume).
  CHECK(stat_of(volume + "/layers/upper/x").st_uid == kFirst + 5);
  CHECK(stat_of(volume + "/layers/upper/new").st_uid == kFirst);
  CHECK(facts_of(base_paths) == before);

  CHECK(volumes.remove("shifted").code() == EBUSY);  // the overlay is still mounted
  REQUIRE(::umount2(merged.c_str(), UMOUNT_NOFOLLOW) == 0);
  // Something not idmapped on top of where the lower layer goes is never ours to unmount.
  make_dir(scratch / "other");
  REQUIRE(::mount((scratch / "other").c_str(), (volume + "/lower").c_str(), nullptr, MS_BIND, nullptr) == 0);
  CHECK(volumes.remove("shifted").code() == EBUSY);
  REQUIRE(::umount2((volume + "/lower").c_str(), UMOUNT_NOFOLLOW) == 0);
  REQUIRE(volumes.remove("shifted"));
  CHECK_FALSE(snapcell::testing::exists(volume));
  mounts = snapcell::linux_sys::read_mountinfo();
  REQUIRE(mounts);
  for (const auto& left : *mounts) CHECK(left.mount_point.rfind(scratch.path() + "/volumes", 0) != 0);
  CHECK(facts_of(base_paths) == before);
}

TEST_CASE("host idmap: bad ranges and sources are refused naming the problem, and nothing is mounted",
          "[host][idmap]") {
  HOST_REQUIRE_ROOT();
  using snapcell::linux_sys::validate_id_range;
  CHECK_FALSE(validate_id_range({kFirst, 0}));
  CHECK_THAT(validate_id_range({0, 65'536}).error().message(), Catch::Contains("the host's root"));
  CHECK_THAT(validate_id_range({0xffff0000u, 65'536}).error().message(), Catch::Contains("past the last valid id"));
  CHECK_FALSE(make_id_namespace({0, 1}));

  Scratch scratch;
  const std::string target = scratch / "target";
  make_dir(target);
  auto userns = make_id_namespace(kRange);
  REQUIRE(userns);
  auto missing = bind_idmapped(scratch / "missing", target, userns->get(), false);
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message(), Catch::Contains(scratch / "missing"));

  CHECK_THROWS_AS(OverlayVolumes(scratch / "volumes", 16ull << 20, IdRange{0, 65'536}), snapcell::Failure);

  auto mounts = snapcell::linux_sys::read_mountinfo();
  REQUIRE(mounts);
  CHECK(mount_at(*mounts, target) == nullptr);
}
