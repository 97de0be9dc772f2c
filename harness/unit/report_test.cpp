// Unit tests of report.hpp: what add and remain record, when a report is
// clean, and the exact text format_report prints for each part.

#include "snapcell/report.hpp"

#include <cerrno>
#include <set>
#include <string>
#include <string_view>

#include <catch2/catch.hpp>

using Catch::Matchers::Contains;
using snapcell::format_report;
using snapcell::Outcome;
using snapcell::Report;
using snapcell::ResourceKind;
using snapcell::WaitOutcome;

namespace {

constexpr const char* kSession = "ci-00000000deadbeef";
constexpr const char* kMountPoint = "/run/snapcell/ci-00000000deadbeef";

}  // namespace

TEST_CASE("report: an empty report is clean and names its session", "[report]") {
  Report report;
  report.session = kSession;
  CHECK(report.clean());
  CHECK(report.steps.empty());
  CHECK(report.remains.empty());
  CHECK_FALSE(report.containment_proven);
  CHECK_FALSE(report.lazily_detached);
  CHECK_FALSE(report.build.has_value());
  CHECK(format_report(report) ==
        "session ci-00000000deadbeef: clean\n"
        "  containment: not proven (weak supervisor, or unit unknown)\n");
}

TEST_CASE("report: add records each step in order, with an empty detail by default", "[report]") {
  Report report;
  report.add("kill", "cgroup", Outcome::done);
  report.add("unmount", kMountPoint, Outcome::failed, "Device or resource busy");
  REQUIRE(report.steps.size() == 2);
  CHECK(report.steps[0].step == "kill");
  CHECK(report.steps[0].target == "cgroup");
  CHECK(report.steps[0].outcome == Outcome::done);
  CHECK(report.steps[0].detail.empty());
  CHECK(report.steps[1].step == "unmount");
  CHECK(report.steps[1].target == kMountPoint);
  CHECK(report.steps[1].outcome == Outcome::failed);
  CHECK(report.steps[1].detail == "Device or resource busy");
  CHECK(report.clean());  // steps, even failed ones, leave nothing by themselves
}

TEST_CASE("report: remain records what is left, in order, and makes the report unclean", "[report]") {
  Report report;
  report.remain(ResourceKind::mount, kMountPoint, "umount2 failed");
  CHECK_FALSE(report.clean());
  report.remain(ResourceKind::volume, kSession, "refused");
  REQUIRE(report.remains.size() == 2);
  CHECK(report.remains[0].kind == ResourceKind::mount);
  CHECK(report.remains[0].target == kMountPoint);
  CHECK(report.remains[0].why == "umount2 failed");
  CHECK(report.remains[1].kind == ResourceKind::volume);
  CHECK(report.remains[1].target == kSession);
  CHECK(report.remains[1].why == "refused");
}

TEST_CASE("report: errors before teardown do not by themselves make a report unclean", "[report]") {
  Report report;
  report.errors.push_back(snapcell::errno_error("snapshot", "vg0/base", ENOSPC));
  CHECK(report.clean());
}

TEST_CASE("report: format_report prints the session, build, errors, each step and each remains line", "[report]") {
  Report report;
  report.session = kSession;
  report.build = WaitOutcome{false, 3};
  report.errors.push_back(snapcell::errno_error("snapshot", "vg0/base", ENOSPC));
  report.add("kill", "cgroup", Outcome::done);
  report.add("unmount", kMountPoint, Outcome::failed, "Device or resource busy");
  report.add("remove volume", kSession, Outcome::refused, "is an origin");
  report.add("rmdir", kMountPoint, Outcome::absent);
  report.remain(ResourceKind::mount, kMountPoint, "umount2 failed");
  report.remain(ResourceKind::volume, kSession, "refused");
  report.remain(ResourceKind::mount_point, kMountPoint, "still mounted");

  std::string text = format_report(report);
  CHECK(text ==
        "session ci-00000000deadbeef: LEFT RESOURCES\n"
        "  build: exited with 3\n"
        "  error: snapshot(vg0/base): No space left on device\n"
        "  kill           done     cgroup\n"
        "  unmount        failed   /run/snapcell/ci-00000000deadbeef: Device or resource busy\n"
        "  remove volume  refused  ci-00000000deadbeef: is an origin\n"
        "  rmdir          absent   /run/snapcell/ci-00000000deadbeef\n"
        "  remains mount /run/snapcell/ci-00000000deadbeef: umount2 failed\n"
        "  remains volume ci-00000000deadbeef: refused\n"
        "  remains mount point /run/snapcell/ci-00000000deadbeef: still mounted\n"
        "  containment: not proven (weak supervisor, or unit unknown)\n");
  CHECK_THAT(text, Contains(kSession));
}

TEST_CASE("report: format_report of a clean timed-out build with proven containment", "[report]") {
  Report report;
  report.session = kSession;
  report.build = WaitOutcome{true, 137};
  report.containment_proven = true;
  report.add("kill", "cgroup", Outcome::done);
  CHECK(format_report(report) ==
        "session ci-00000000deadbeef: clean\n"
        "  build: killed at its deadline\n"
        "  kill           done     cgroup\n");
}

TEST_CASE("report: a step name longer than its column is printed whole", "[report]") {
  Report report;
  report.session = "s";
  report.containment_proven = true;
  report.add("remove journal record", "s", Outcome::done);
  CHECK(format_report(report) == "session s: clean\n  remove journal record done     s\n");
}

TEST_CASE("report: every resource kind and outcome has a distinct name", "[report]") {
  CHECK(to_string(ResourceKind::process) == "process");
  CHECK(to_string(ResourceKind::unit) == "unit");
  CHECK(to_string(ResourceKind::mount) == "mount");
  CHECK(to_string(ResourceKind::mount_point) == "mount point");
  CHECK(to_string(ResourceKind::volume) == "volume");
  CHECK(to_string(ResourceKind::journal) == "journal record");
  CHECK(to_string(Outcome::done) == "done");
  CHECK(to_string(Outcome::absent) == "absent");
  CHECK(to_string(Outcome::refused) == "refused");
  CHECK(to_string(Outcome::failed) == "failed");
  std::set<std::string_view> kinds;
  for (auto kind : {ResourceKind::process, ResourceKind::unit, ResourceKind::mount, ResourceKind::mount_point,
                    ResourceKind::volume, ResourceKind::journal})
    kinds.insert(to_string(kind));
  CHECK(kinds.size() == 6);
}

TEST_CASE("report: format_report lists one remains line per remaining resource, of every kind", "[report]") {
  Report report;
  report.session = kSession;
  report.remain(ResourceKind::process, "4242", "survived SIGKILL");
  report.remain(ResourceKind::unit, "cgroup", "not released");
  report.remain(ResourceKind::journal, kSession, "kept for reap");
  std::string text = format_report(report);
  CHECK_THAT(text, Contains("session ci-00000000deadbeef: LEFT RESOURCES\n"));
  CHECK_THAT(text, Contains("  remains process 4242: survived SIGKILL\n"));
  CHECK_THAT(text, Contains("  remains unit cgroup: not released\n"));
  CHECK_THAT(text, Contains("  remains journal record ci-00000000deadbeef: kept for reap\n"));
}
