// Unit tests of the cgroup text parsers: cgroup.events, cgroup.procs and
// /proc/PID/cgroup, from samples, malformed text (one per reject path) and
// the live files of this machine.

#include "snapcell/linux/cgroup_layout.hpp"
#include "snapcell/linux/cgroup_text.hpp"
#include "snapcell/linux/mountinfo.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "host/support.hpp"
#include "unit/text_support.hpp"
#include <fmt/format.h>

using namespace std::string_literals;
using Catch::Matchers::Contains;
using snapcell::linux_text::CgroupEvents;
using snapcell::linux_text::CgroupMembership;
using snapcell::linux_text::parse_cgroup_events;
using snapcell::linux_text::parse_cgroup_procs;
using snapcell::linux_text::parse_proc_cgroup;
using snapcell::linux_text::unified_path;

using snapcell::testing::detail_of;
using snapcell::testing::read_text;

namespace {

struct Case {
  std::string text;
  std::string reason;
};

// A hybrid (v1 + v2) host, from this 6.18 machine.
constexpr std::string_view kHybrid =
    "9:name=systemd:/\n"
    "8:pids:/\n"
    "7:blkio:/\n"
    "6:freezer:/\n"
    "5:devices:/\n"
    "4:memory:/process_api/bd63d2b2e2b60db14fb4ba76a7f9b7e3\n"
    "3:cpuset:/\n"
    "2:cpuacct:/\n"
    "1:cpu:/\n"
    "0::/\n";

}  // namespace

TEST_CASE("cgroup.events: kernel text", "[linux][cgroup]") {
  CHECK(*parse_cgroup_events("populated 1\nfrozen 0\n") == CgroupEvents{true, false});
  CHECK(*parse_cgroup_events("populated 0\nfrozen 1") == CgroupEvents{false, true});
  CHECK(*parse_cgroup_events("frozen 1\npopulated 1\n") == CgroupEvents{true, true});
  CHECK(*parse_cgroup_events("populated 0\n") == CgroupEvents{false, false});  // before 5.2
  CHECK(*parse_cgroup_events("populated 1\nlater_key 42\nfrozen 0\n") == CgroupEvents{true, false});
}

TEST_CASE("cgroup.events: every malformed text is rejected with its reason", "[linux][cgroup]") {
  const std::vector<Case> cases = {
      {"", "no populated line"},
      {"frozen 1\n", "no populated line"},
      {"\n", "not a \"key value\" line"},
      {"populated 1\n\nfrozen 0\n", "not a \"key value\" line"},
      {"populated 1\n\n", "not a \"key value\" line"},
      {"populated", "not a \"key value\" line"},
      {"populated  1", "not a \"key value\" line"},
      {"populated 1 ", "not a \"key value\" line"},
      {" populated 1", "not a \"key value\" line"},
      {"populated\t1", "not a \"key value\" line"},
      {"populated 1\r", "neither 0 nor 1"},
      {"populated 2", "populated is neither 0 nor 1"},
      {"populated 01", "populated is neither 0 nor 1"},
      {"populated true", "populated is neither 0 nor 1"},
      {"populated 1\nfrozen -1", "frozen is neither 0 nor 1"},
      {"populated 1\npopulated 0", "populated given twice"},
      {"populated 1\nfrozen 0\nfrozen 0", "frozen given twice"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    const auto result = parse_cgroup_events(c.text);
    CHECK_THAT(detail_of(result), Contains(c.reason));
    if (!result) CHECK(result.error().operation == "parse_cgroup_events");
  }
  const auto second = parse_cgroup_events("populated 1\npopulated 0\n");
  REQUIRE_FALSE(second);
  CHECK_THAT(second.error().target, Contains("line 2"));
}

TEST_CASE("cgroup.procs: kernel text", "[linux][cgroup]") {
  CHECK(parse_cgroup_procs("")->empty());
  CHECK(*parse_cgroup_procs("1\n2\n30\n") == std::vector<int>{1, 2, 30});
  CHECK(*parse_cgroup_procs("2147483647") == std::vector<int>{2147483647});
  CHECK(*parse_cgroup_procs("7\n3\n7\n") == std::vector<int>{7, 3, 7});  // duplicates kept, order kept
}

TEST_CASE("cgroup.procs: every malformed text is rejected with its reason", "[linux][cgroup]") {
  const std::vector<Case> cases = {
      {"0\n", "pid 0: a task outside the reader's PID namespace"},
      {"12\n0\n", "pid 0"},
      {"\n", "not a positive decimal pid"},
      {"1\n\n2\n", "not a positive decimal pid"},
      {"1\n2\n\n", "not a positive decimal pid"},
      {"-1", "not a positive decimal pid"},
      {"+1", "not a positive decimal pid"},
      {"01", "not a positive decimal pid"},
      {"00", "not a positive decimal pid"},
      {"x", "not a positive decimal pid"},
      {" 1", "not a positive decimal pid"},
      {"1 ", "not a positive decimal pid"},
      {"1\t", "not a positive decimal pid"},
      {"1 2", "not a positive decimal pid"},
      {"2147483648", "not a positive decimal pid"},
      {"99999999999999999999999", "not a positive decimal pid"},
      {"1\r\n", "not a positive decimal pid"},
      {"1\0"s, "not a positive decimal pid"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    const auto result = parse_cgroup_procs(c.text);
    CHECK_THAT(detail_of(result), Contains(c.reason));
    if (!result) CHECK(result.error().operation == "parse_cgroup_procs");
  }
  const auto third = parse_cgroup_procs("1\n2\nthree\n");
  REQUIRE_FALSE(third);
  CHECK_THAT(third.error().target, Contains("line 3: three"));
}

TEST_CASE("/proc/PID/cgroup: kernel text", "[linux][cgroup]") {
  SECTION("hybrid v1 and v2") {
    const auto memberships = parse_proc_cgroup(kHybrid);
    REQUIRE(memberships);
    REQUIRE(memberships->size() == 10);
    CHECK((*memberships)[0] == CgroupMembership{9, {"name=systemd"}, "/"});
    CHECK((*memberships)[5] == CgroupMembership{4, {"memory"}, "/process_api/bd63d2b2e2b60db14fb4ba76a7f9b7e3"});
    CHECK((*memberships)[9] == CgroupMembership{0, {}, "/"});
    CHECK(unified_path(*memberships) == "/");
  }
  SECTION("v2 only, the path keeps every ':' and space") {
    const auto memberships = parse_proc_cgroup("0::/user.slice/a:b::c/d e\n");
    REQUIRE(memberships);
    REQUIRE(memberships->size() == 1);
    CHECK(unified_path(*memberships) == "/user.slice/a:b::c/d e");
  }
  SECTION("paths outside the cgroup namespace and removed cgroups come as printed") {
    const auto memberships = parse_proc_cgroup("0::/../../sibling (deleted)");
    REQUIRE(memberships);
    CHECK(unified_path(*memberships) == "/../../sibling (deleted)");
  }
  SECTION("several controllers on one v1 hierarchy, and no v2 entry") {
    const auto memberships = parse_proc_cgroup("3:cpu,cpuacct:/a\n2:net_cls,net_prio,name=x:/\n");
    REQUIRE(memberships);
    CHECK((*memberships)[0].controllers == std::vector<std::string>{"cpu", "cpuacct"});
    CHECK((*memberships)[1].controllers == std::vector<std::string>{"net_cls", "net_prio", "name=x"});
    CHECK_FALSE(unified_path(*memberships));
  }
  SECTION("empty text, with or without the final newline") {
    CHECK(parse_proc_cgroup("")->empty());
    CHECK_FALSE(unified_path({}));
    CHECK(*parse_proc_cgroup(kHybrid.substr(0, kHybrid.size() - 1)) == *parse_proc_cgroup(kHybrid));
  }
}

TEST_CASE("/proc/PID/cgroup: every malformed text is rejected with its reason", "[linux][cgroup]") {
  const std::vector<Case> cases = {
      {"\n", "not an \"ID:controllers:path\" line"},
      {"0::/\n\n", "not an \"ID:controllers:path\" line"},
      {"0:/", "not an \"ID:controllers:path\" line"},
      {"0", "not an \"ID:controllers:path\" line"},
      {"::/", "hierarchy id"},
      {"x::/", "hierarchy id"},
      {"-1::/", "hierarchy id"},
      {"+0::/", "hierarchy id"},
      {"00::/", "hierarchy id"},
      {" 0::/", "hierarchy id"},
      {"2147483648:cpu:/", "hierarchy id"},
      {"0:cpu:/", "controllers must be empty for hierarchy 0"},
      {"1::/", "controllers must be empty for hierarchy 0"},
      {"1:cpu,:/", "empty controller"},
      {"1:,cpu:/", "empty controller"},
      {"1:cpu,,memory:/", "empty controller"},
      {"0::", "path is not absolute"},
      {"0::a/b", "path is not absolute"},
      {"0:: /", "path is not absolute"},
      {"0::/a\0b"s, "NUL byte in path"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    const auto result = parse_proc_cgroup(c.text);
    CHECK_THAT(detail_of(result), Contains(c.reason));
    if (!result) CHECK(result.error().operation == "parse_proc_cgroup");
  }
  const auto twice = parse_proc_cgroup("1:cpu:/\n0::/\n1:cpu:/a\n");
  REQUIRE_FALSE(twice);
  CHECK(twice.error().detail == "listed twice");
  CHECK_THAT(twice.error().target, Contains("line 3") && Contains("hierarchy 1"));
}

TEST_CASE("cgroup text: the live files of this machine parse", "[linux][cgroup][live]") {
  const auto own = parse_proc_cgroup(read_text("/proc/self/cgroup"));
  REQUIRE(own);
  REQUIRE_FALSE(own->empty());

  DIR* proc = ::opendir("/proc");
  REQUIRE(proc != nullptr);
  int parsed = 0;
  while (const dirent* entry = ::readdir(proc)) {
    const auto pid = snapcell::linux_text::parse_pid(entry->d_name);
    if (!pid) continue;
    const std::string text = read_text(fmt::format("/proc/{}/cgroup", *pid));
    if (text.empty()) continue;  // exited since readdir
    CAPTURE(*pid, text);
    CHECK(parse_proc_cgroup(text));
    ++parsed;
  }
  ::closedir(proc);
  CHECK(parsed > 1);

  // cgroup.procs and cgroup.events of our own v2 cgroup, found through a
  // cgroup2 mount of the hierarchy root.
  const auto path = unified_path(*own);
  const auto mounts = snapcell::linux_text::parse_mountinfo(read_text("/proc/self/mountinfo"));
  REQUIRE(mounts);
  const auto cgroup2 = std::find_if(mounts->begin(), mounts->end(), [](const auto& m) {
    return m.fs_type == "cgroup2" && m.root == "/";
  });
  if (!path || path->starts_with("/..") || cgroup2 == mounts->end()) {
    // Counted as skipped by ctest (SKIP_REGULAR_EXPRESSION), never as a pass.
    std::printf("SKIPPED: no cgroup2 mount of our own cgroup here; live cgroup.procs and cgroup.events not checked\n");
    return;
  }
  const std::filesystem::path own_dir = cgroup2->mount_point + *path;
  const auto procs = parse_cgroup_procs(read_text(own_dir / "cgroup.procs"));
  REQUIRE(procs);
  CHECK(std::find(procs->begin(), procs->end(), ::getpid()) != procs->end());

  // The root cgroup has no cgroup.events, and a fresh host may have no
  // cgroup below it: a scratch child of our own guarantees one to read.
  std::optional<snapcell::testing::CgroupParent> scratch;
  try {
    scratch.emplace((own_dir / fmt::format("snapcell-unit-live-{}", ::getpid())).string());
  } catch (const std::runtime_error& error) {
    // Counted as skipped by ctest (SKIP_REGULAR_EXPRESSION), never as a pass.
    std::printf("SKIPPED: cannot make a scratch cgroup (%s); live cgroup.events not checked\n", error.what());
    return;
  }
  const auto scratch_events = parse_cgroup_events(read_text(std::filesystem::path(scratch->path()) / "cgroup.events"));
  REQUIRE(scratch_events);
  CHECK_FALSE(scratch_events->populated);

  // Then every cgroup.events of the hierarchy, ours and the host's.
  int events_checked = 0;
  std::error_code error;
  for (auto it = std::filesystem::recursive_directory_iterator(cgroup2->mount_point, error);
       !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
    if (it->path().filename() != "cgroup.events") continue;
    const std::string text = read_text(it->path());
    if (text.empty()) continue;  // removed since listed
    CAPTURE(it->path().string(), text);
    CHECK(parse_cgroup_events(text));
    const std::string procs_text = read_text(it->path().parent_path() / "cgroup.procs");
    CHECK(parse_cgroup_procs(procs_text));
    ++events_checked;
  }
  CHECK(events_checked > 0);  // the scratch cgroup's at least
}

TEST_CASE("cgroup text: random and mutated text never crashes, and each refusal names its reason", "[linux][cgroup]") {
  std::mt19937 random(13);
  // Each parse either accepts or refuses naming its parser and a reason; the
  // mutations must reach both sides of each parser.
  std::map<std::string_view, std::pair<int, int>> outcomes;  // parser: accepted, refused
  const auto judge = [&](const auto& result, std::string_view parser, const std::string& text) {
    if (result) {
      ++outcomes[parser].first;
      return;
    }
    ++outcomes[parser].second;
    if (result.error().operation != parser || result.error().detail.empty()) {
      CAPTURE(text, result.error().message());
      CHECK(result.error().operation == parser);
      CHECK_FALSE(result.error().detail.empty());
    }
  };
  const std::string_view alphabet = "0123456789:,/ -\npopulatedfrozen";
  const std::array<std::string, 3> seeds = {std::string(kHybrid), "populated 1\nfrozen 0\n", "1\n22\n333\n"};
  for (int round = 0; round < 20000; ++round) {
    std::string text = seeds[random() % seeds.size()];
    for (int edits = 1 + static_cast<int>(random() % 3); edits > 0; --edits) {
      const std::size_t at = random() % (text.size() + 1);
      const char c = alphabet[random() % alphabet.size()];
      switch (random() % 3) {
        case 0: text.insert(at, 1, c); break;
        case 1: if (at < text.size()) text.erase(at, 1); break;
        default: if (at < text.size()) text[at] = c; break;
      }
    }
    judge(parse_cgroup_events(text), "parse_cgroup_events", text);
    judge(parse_cgroup_procs(text), "parse_cgroup_procs", text);
    const auto memberships = parse_proc_cgroup(text);
    judge(memberships, "parse_proc_cgroup", text);
    if (memberships) (void)unified_path(*memberships);
  }
  for (const std::string_view parser : {"parse_cgroup_events", "parse_cgroup_procs", "parse_proc_cgroup"}) {
    CAPTURE(parser);
    CHECK(outcomes[parser].first > 0);
    CHECK(outcomes[parser].second > 0);
  }
}

TEST_CASE("cgroup layout: pure v2, hybrid and none, from mountinfo as the kernel writes it", "[linux][cgroup]") {
  using snapcell::linux_sys::cgroup_layout_of;
  using snapcell::linux_text::parse_mountinfo;
  // Debian 12 under systemd: v2 alone at /sys/fs/cgroup.
  auto pure = parse_mountinfo(
      "22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
      "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n");
  REQUIRE(pure);
  auto layout = cgroup_layout_of(*pure);
  CHECK(layout.v2_mount == "/sys/fs/cgroup");
  CHECK_FALSE(layout.hybrid());
  CHECK(layout.default_parent() == "/sys/fs/cgroup/snapcell.slice");
  // This CI machine: v2 at unified/, v1 pids and memory beside it; a cpu,cpuacct
  // hierarchy must not be taken for either, nor "nopids"-like neighbours.
  auto hybrid = parse_mountinfo(
      "30 24 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755\n"
      "31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:5 - cgroup2 cgroup2 rw,nsdelegate\n"
      "33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
      "34 30 0:30 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:7 - cgroup cgroup rw,pids\n"
      "35 30 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:8 - cgroup cgroup rw,memory\n");
  REQUIRE(hybrid);
  layout = cgroup_layout_of(*hybrid);
  CHECK(layout.v2_mount == "/sys/fs/cgroup/unified");
  CHECK(layout.pids_v1_mount == "/sys/fs/cgroup/pids");
  CHECK(layout.memory_v1_mount == "/sys/fs/cgroup/memory");
  CHECK(layout.hybrid());
  CHECK(layout.default_parent() == "/sys/fs/cgroup/unified/snapcell.slice");
  // A cgroup2 mounted elsewhere (a test's own, a container runtime's) is not the host's.
  auto elsewhere = parse_mountinfo("40 1 0:40 / /tmp/x rw - cgroup2 cgroup2 rw\n");
  REQUIRE(elsewhere);
  CHECK(cgroup_layout_of(*elsewhere).v2_mount.empty());
  CHECK(cgroup_layout_of(*elsewhere).default_parent().empty());
}

TEST_CASE("cgroup layout: this host's has a v2 hierarchy", "[linux][cgroup]") {
  auto layout = snapcell::linux_sys::detect_cgroup_layout();
  if (!layout) {
    std::printf("SKIPPED: %s\n", layout.error().message().c_str());
    return;
  }
  CHECK(layout->v2_mount.rfind("/sys/fs/cgroup", 0) == 0);
  CHECK(::access((layout->v2_mount + "/cgroup.procs").c_str(), F_OK) == 0);
}
