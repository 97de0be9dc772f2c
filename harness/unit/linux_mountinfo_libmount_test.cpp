// Cross-check of the mountinfo parser against libmount (util-linux), the
// parser mount(8) and findmnt(8) use: both read the same bytes, every entry
// must agree. Link with -lmount.

#include "snapcell/linux/mountinfo.hpp"

#include <libmount/libmount.h>
#include <sys/sysmacros.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "unit/text_support.hpp"

using snapcell::linux_text::makedev_of;
using snapcell::linux_text::MountInfoEntry;
using snapcell::linux_text::parse_mountinfo;

using snapcell::testing::detail_of;
using snapcell::testing::read_text;

namespace {

std::string or_empty(const char* text) { return text == nullptr ? std::string() : std::string(text); }

// Parses `text` with libmount and compares every entry with ours.
void compare_with_libmount(const std::string& text) {
  const auto ours = parse_mountinfo(text);
  REQUIRE(ours);

  // fmemopen keeps both parsers on one reading: the live table may change
  // between two reads of /proc/self/mountinfo.
  std::string buffer = text;
  std::unique_ptr<FILE, int (*)(FILE*)> stream(::fmemopen(buffer.data(), buffer.size(), "r"), &std::fclose);
  REQUIRE(stream != nullptr);
  std::unique_ptr<libmnt_table, void (*)(libmnt_table*)> table(::mnt_new_table(), &::mnt_unref_table);
  REQUIRE(table != nullptr);
  REQUIRE(::mnt_table_parse_stream(table.get(), stream.get(), "/proc/self/mountinfo") == 0);
  REQUIRE(::mnt_table_get_nents(table.get()) == static_cast<int>(ours->size()));

  std::unique_ptr<libmnt_iter, void (*)(libmnt_iter*)> iter(::mnt_new_iter(MNT_ITER_FORWARD), &::mnt_free_iter);
  REQUIRE(iter != nullptr);
  libmnt_fs* fs = nullptr;
  for (const MountInfoEntry& entry : *ours) {
    REQUIRE(::mnt_table_next_fs(table.get(), iter.get(), &fs) == 0);
    CAPTURE(entry.mount_id, entry.mount_point);
    CHECK(::mnt_fs_get_id(fs) == entry.mount_id);
    CHECK(::mnt_fs_get_parent_id(fs) == entry.parent_id);
    CHECK(static_cast<std::uint64_t>(::mnt_fs_get_devno(fs)) == makedev_of(entry));
    CHECK(or_empty(::mnt_fs_get_root(fs)) == entry.root);
    CHECK(or_empty(::mnt_fs_get_fstype(fs)) == entry.fs_type);
    CHECK(or_empty(::mnt_fs_get_vfs_options(fs)) == entry.mount_options);

    // libmount 2.39 and later drop a " (deleted)" suffix from the target.
    const std::string target = or_empty(::mnt_fs_get_target(fs));
    constexpr std::string_view deleted = " (deleted)";
    if (target != entry.mount_point && std::string_view(entry.mount_point).ends_with(deleted)) {
      CHECK(target + std::string(deleted) == entry.mount_point);
    } else {
      CHECK(target == entry.mount_point);
    }

    // libmount swaps the kernel's "/dev/root" for the device it guesses.
    if (entry.source != "/dev/root") CHECK(or_empty(::mnt_fs_get_source(fs)) == entry.source);

    std::string optional;
    for (const auto& field : entry.optional_fields) optional += (optional.empty() ? "" : " ") + field;
    CHECK(or_empty(::mnt_fs_get_optional_fields(fs)) == optional);
  }
  CHECK(::mnt_table_next_fs(table.get(), iter.get(), &fs) == 1);
}

}  // namespace

TEST_CASE("mountinfo vs libmount: the live /proc/self/mountinfo", "[linux][mountinfo][libmount][live]") {
  const std::string text = read_text("/proc/self/mountinfo");
  REQUIRE_FALSE(text.empty());
  compare_with_libmount(text);
}

TEST_CASE("mountinfo vs libmount: escapes, an empty source, optional fields", "[linux][mountinfo][libmount]") {
  compare_with_libmount(
      "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n"
      "63 27 0:39 / /tmp/t/a\\040b\\011c\\134d\\012e\\040(x) rw,relatime - tmpfs  rw\n"
      "64 27 0:40 /r\\040t /tmp/u rw,nosuid shared:1 master:2 propagate_from:3 unbindable - "
      "fuse.x sp\\040ace\\134x ro,user_id=0\n"
      "65 64 8:17 /sub /tmp/u/v ro master:4 - ext4 /dev/sdb1 rw\n"
      "66 1 259:300 net:[4026531840] /run/netns/n rw - nsfs nsfs rw\n"
      "67 27 4095:1048575 / /-\\040- rw - tmpfs - rw");
}
