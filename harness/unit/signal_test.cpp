// Unit tests of signal.hpp against a hand-written process table: a member is
// signalled through its handle, a non-member is refused (code 0) and never
// signalled, and a process that is gone or recycled yields ESRCH and no signal.

#include "snapcell/signal.hpp"

#include <csignal>
#include <cerrno>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

using snapcell::Pid;
using snapcell::ProcessFacts;
using snapcell::Result;
using snapcell::signal_if_member;
using snapcell::signal_members;
using snapcell::SignalSweep;
using snapcell::Status;

namespace {

// A process table whose handles pin a process by PID and start time, as a
// pidfd does. Processes can be scripted to die, or to die and have their PID
// recycled, between open and inspect; send can be scripted to fail.
struct TableDouble {
  struct Handle {
    Pid pid = 0;
    std::uint64_t start_time = 0;
  };

  std::map<Pid, ProcessFacts> processes;
  std::set<Pid> die_after_open;
  std::set<Pid> recycle_after_open;
  std::map<Pid, int> send_fails_with;
  std::vector<std::pair<Pid, int>> sent;
  int opens = 0;
  int inspects = 0;

  void spawn(Pid pid, std::string cgroup, std::uint64_t start_time = 1000) {
    ProcessFacts facts;
    facts.pid = pid;
    facts.pgid = pid;
    facts.sid = pid;
    facts.cgroup = std::move(cgroup);
    facts.start_time = start_time;
    processes[pid] = facts;
  }

  Result<Handle> open(Pid pid) {
    ++opens;
    auto it = processes.find(pid);
    if (it == processes.end()) return snapcell::errno_error("pidfd_open", std::to_string(pid), ESRCH);
    Handle handle{pid, it->second.start_time};
    if (die_after_open.count(pid)) processes.erase(pid);
    if (recycle_after_open.count(pid)) spawn(pid, "/user.slice/unrelated", handle.start_time + 1);
    return handle;
  }

  Result<ProcessFacts> inspect(const Handle& handle) {
    ++inspects;
    auto it = processes.find(handle.pid);
    if (it == processes.end() || it->second.start_time != handle.start_time)
      return snapcell::errno_error("inspect", std::to_string(handle.pid), ESRCH);
    return it->second;
  }

  Status send(const Handle& handle, int signal) {
    auto it = processes.find(handle.pid);
    if (it == processes.end() || it->second.start_time != handle.start_time)
      return snapcell::errno_error("pidfd_send_signal", std::to_string(handle.pid), ESRCH);
    if (auto fail = send_fails_with.find(handle.pid); fail != send_fails_with.end())
      return snapcell::errno_error("pidfd_send_signal", std::to_string(handle.pid), fail->second);
    sent.emplace_back(handle.pid, signal);
    return {};
  }
};
static_assert(snapcell::ProcessTable<TableDouble>);

constexpr const char* kUnit = "/snapcell/ci-00000000deadbeef";

bool in_unit(const ProcessFacts& facts) { return facts.cgroup == kUnit; }

using Sent = std::vector<std::pair<Pid, int>>;

}  // namespace

TEST_CASE("signal: a member of the unit is signalled through its handle", "[signal]") {
  TableDouble table;
  table.spawn(4242, kUnit);
  Status status = signal_if_member(table, 4242, SIGTERM, in_unit);
  CHECK(status.is_ok());
  CHECK(table.sent == Sent{{4242, SIGTERM}});
}

TEST_CASE("signal: the membership test sees the facts read through the handle", "[signal]") {
  TableDouble table;
  table.spawn(4242, kUnit, 777);
  std::vector<ProcessFacts> seen;
  auto recording = [&](const ProcessFacts& facts) {
    seen.push_back(facts);
    return true;
  };
  REQUIRE(signal_if_member(table, 4242, SIGKILL, recording));
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].pid == 4242);
  CHECK(seen[0].cgroup == kUnit);
  CHECK(seen[0].start_time == 777);
  CHECK(table.sent == Sent{{4242, SIGKILL}});
}

TEST_CASE("signal: a non-member is refused with code 0 and not signalled", "[signal]") {
  TableDouble table;
  table.spawn(4242, "/user.slice/sshd");
  Status status = signal_if_member(table, 4242, SIGKILL, in_unit);
  REQUIRE_FALSE(status);
  CHECK(status.code() == 0);
  CHECK(status.error().operation == "signal member");
  CHECK(status.error().target == "4242");
  CHECK(status.error().detail == "not a member of the unit");
  CHECK(table.sent.empty());
}

TEST_CASE("signal: a process that died between open and inspect yields ESRCH and no signal", "[signal]") {
  TableDouble table;
  table.spawn(4242, kUnit);
  table.die_after_open.insert(4242);
  int member_tests = 0;
  auto counting = [&](const ProcessFacts& facts) {
    ++member_tests;
    return in_unit(facts);
  };
  Status status = signal_if_member(table, 4242, SIGKILL, counting);
  REQUIRE_FALSE(status);
  CHECK(status.code() == ESRCH);
  CHECK(status.error().operation == "inspect");
  CHECK(member_tests == 0);
  CHECK(table.opens == 1);
  CHECK(table.inspects == 1);
  CHECK(table.sent.empty());
}

TEST_CASE("signal: a PID recycled by an unrelated process after open yields ESRCH and no signal", "[signal]") {
  TableDouble table;
  table.spawn(4242, kUnit);
  table.recycle_after_open.insert(4242);
  auto anything = [](const ProcessFacts&) { return true; };  // even a careless test cannot hit the newcomer
  Status status = signal_if_member(table, 4242, SIGKILL, anything);
  REQUIRE_FALSE(status);
  CHECK(status.code() == ESRCH);
  CHECK(table.sent.empty());
  CHECK(table.processes.at(4242).cgroup == "/user.slice/unrelated");
}

TEST_CASE("signal: a process already gone at open yields ESRCH without inspecting it", "[signal]") {
  TableDouble table;
  int member_tests = 0;
  auto counting = [&](const ProcessFacts&) { return ++member_tests, true; };
  Status status = signal_if_member(table, 4242, SIGTERM, counting);
  REQUIRE_FALSE(status);
  CHECK(status.code() == ESRCH);
  CHECK(status.error().operation == "pidfd_open");
  CHECK(table.inspects == 0);
  CHECK(member_tests == 0);
  CHECK(table.sent.empty());
}

TEST_CASE("signal: a failed send is returned with its errno", "[signal]") {
  TableDouble table;
  table.spawn(4242, kUnit);
  table.send_fails_with[4242] = EPERM;
  Status status = signal_if_member(table, 4242, SIGTERM, in_unit);
  REQUIRE_FALSE(status);
  CHECK(status.code() == EPERM);
  CHECK(status.error().operation == "pidfd_send_signal");
  CHECK(table.sent.empty());
}

TEST_CASE("signal: signal_members signals every member and returns exactly the refused PIDs", "[signal]") {
  TableDouble table;
  table.spawn(10, kUnit);
  table.spawn(11, "/user.slice/sshd");
  table.spawn(12, kUnit);
  table.die_after_open.insert(12);
  // 13 does not exist at all.
  table.spawn(14, kUnit);
  table.spawn(15, "/system.slice/cron");
  table.spawn(16, kUnit);
  table.recycle_after_open.insert(16);
  table.spawn(17, kUnit);

  SignalSweep sweep = signal_members(table, {10, 11, 12, 13, 14, 15, 16, 17}, SIGKILL, in_unit);
  CHECK(sweep.not_members == std::vector<Pid>{11, 15});
  CHECK(sweep.failures.empty());
  CHECK(table.sent == Sent{{10, SIGKILL}, {14, SIGKILL}, {17, SIGKILL}});
  CHECK(table.opens == 8);
  CHECK(table.processes.count(11) == 1);
  CHECK(table.processes.count(15) == 1);
}

TEST_CASE("signal: signal_members of an empty list signals nothing and refuses nothing", "[signal]") {
  TableDouble table;
  table.spawn(10, kUnit);
  SignalSweep sweep = signal_members(table, {}, SIGKILL, in_unit);
  CHECK(sweep.not_members.empty());
  CHECK(sweep.failures.empty());
  CHECK(table.sent.empty());
  CHECK(table.opens == 0);
}

TEST_CASE("signal: signal_members refuses every PID when none is a member", "[signal]") {
  TableDouble table;
  table.spawn(1, "/init.scope");
  table.spawn(2, "/system.slice/sshd");
  table.spawn(3, "/user.slice/shell");
  CHECK(signal_members(table, {1, 2, 3}, SIGKILL, in_unit).not_members == std::vector<Pid>{1, 2, 3});
  CHECK(table.sent.empty());
}

TEST_CASE("signal: signal_members returns a member's failed send instead of swallowing it", "[signal]") {
  TableDouble table;
  table.spawn(10, kUnit);
  table.spawn(11, kUnit);
  table.send_fails_with[10] = EPERM;
  SignalSweep sweep = signal_members(table, {10, 11}, SIGKILL, in_unit);
  CHECK(sweep.not_members.empty());
  REQUIRE(sweep.failures.size() == 1);
  CHECK(sweep.failures.front().code == EPERM);
  CHECK(sweep.failures.front().operation == "pidfd_send_signal");
  CHECK(table.sent == Sent{{11, SIGKILL}});
}
