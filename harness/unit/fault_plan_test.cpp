// Unit tests of fake/fault_plan.hpp: calls are counted per operation, a fault
// fires on exactly the Nth call of its operation and only once, clear()
// forgets faults and counts; the names and errno values of ops and kinds.

#include "snapcell/fake/fault_plan.hpp"

#include <cerrno>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

using snapcell::fake::Fault;
using snapcell::fake::FaultKind;
using snapcell::fake::FaultPlan;
using snapcell::fake::Op;
using snapcell::fake::op_count;

namespace {

// Which calls (1-based) of `op`, out of `calls`, the plan said should fail.
std::vector<int> firing_calls(FaultPlan& plan, Op op, int calls) {
  std::vector<int> fired;
  for (int call = 1; call <= calls; ++call)
    if (plan.next(op)) fired.push_back(call);
  return fired;
}

}  // namespace

TEST_CASE("fault plan: an empty plan counts calls per operation and never fires", "[fault_plan]") {
  FaultPlan plan;
  CHECK(plan.calls(Op::snapshot) == 0);
  CHECK(firing_calls(plan, Op::snapshot, 5).empty());
  CHECK(firing_calls(plan, Op::unmount, 2).empty());
  CHECK(plan.calls(Op::snapshot) == 5);
  CHECK(plan.calls(Op::unmount) == 2);
  CHECK(plan.calls(Op::mount) == 0);
  CHECK(plan.faults().empty());
}

TEST_CASE("fault plan: a fault fires on exactly the Nth call of its operation, with its kind", "[fault_plan]") {
  FaultPlan plan;
  plan.add(Fault{Op::snapshot, 3, FaultKind::no_space});
  CHECK_FALSE(plan.next(Op::snapshot).has_value());
  CHECK_FALSE(plan.next(Op::snapshot).has_value());
  std::optional<FaultKind> third = plan.next(Op::snapshot);
  REQUIRE(third.has_value());
  CHECK(*third == FaultKind::no_space);
  CHECK(plan.calls(Op::snapshot) == 3);
}

TEST_CASE("fault plan: a fault is one-shot: the calls after the Nth succeed, retries included", "[fault_plan]") {
  FaultPlan plan;
  plan.add(Fault{Op::unmount, 2, FaultKind::busy});
  CHECK(firing_calls(plan, Op::unmount, 10) == std::vector<int>{2});
  CHECK(plan.calls(Op::unmount) == 10);
  CHECK(plan.faults().size() == 1);  // the plan is not consumed, the count has just moved past it
}

TEST_CASE("fault plan: a fault of one operation never fires on another's calls", "[fault_plan]") {
  FaultPlan plan;
  plan.add(Fault{Op::mount, 1, FaultKind::permission_denied});
  for (int i = 0; i < op_count; ++i) {
    Op op = static_cast<Op>(i);
    if (op == Op::mount) continue;
    INFO(to_string(op));
    CHECK(firing_calls(plan, op, 3).empty());
  }
  CHECK(plan.next(Op::mount) == FaultKind::permission_denied);
}

TEST_CASE("fault plan: several faults on one operation fire at each of their calls", "[fault_plan]") {
  FaultPlan plan;
  plan.add(Fault{Op::make_dir, 4, FaultKind::io_error});
  plan.add(Fault{Op::make_dir, 1, FaultKind::busy});
  plan.add(Fault{Op::remove_dir, 2, FaultKind::crash});
  CHECK(plan.next(Op::make_dir) == FaultKind::busy);
  CHECK_FALSE(plan.next(Op::remove_dir).has_value());
  CHECK_FALSE(plan.next(Op::make_dir).has_value());
  CHECK(plan.next(Op::remove_dir) == FaultKind::crash);
  CHECK_FALSE(plan.next(Op::make_dir).has_value());
  CHECK(plan.next(Op::make_dir) == FaultKind::io_error);
  CHECK_FALSE(plan.next(Op::make_dir).has_value());
  REQUIRE(plan.faults().size() == 3);
  CHECK(plan.faults()[0].op == Op::make_dir);
  CHECK(plan.faults()[0].call == 4);
  CHECK(plan.faults()[2].kind == FaultKind::crash);
}

TEST_CASE("fault plan: a fault at call 0 never fires, calls being 1-based", "[fault_plan]") {
  FaultPlan plan;
  plan.add(Fault{Op::holders, 0, FaultKind::busy});
  CHECK(firing_calls(plan, Op::holders, 5).empty());
}

TEST_CASE("fault plan: a default Fault is the first call of the first operation", "[fault_plan]") {
  Fault fault;
  CHECK(fault.call == 1);
  CHECK(fault.op == Op::journal_claim);
  FaultPlan plan;
  plan.add(fault);
  CHECK(plan.next(Op::journal_claim) == FaultKind::busy);
}

TEST_CASE("fault plan: clear forgets every fault and restarts every count", "[fault_plan]") {
  FaultPlan plan;
  plan.add(Fault{Op::snapshot, 2, FaultKind::no_space});
  CHECK_FALSE(plan.next(Op::snapshot).has_value());
  CHECK_FALSE(plan.next(Op::unit_kill).has_value());
  plan.clear();
  CHECK(plan.faults().empty());
  CHECK(plan.calls(Op::snapshot) == 0);
  CHECK(plan.calls(Op::unit_kill) == 0);
  CHECK(firing_calls(plan, Op::snapshot, 4).empty());  // the cleared fault is gone

  plan.clear();
  plan.add(Fault{Op::snapshot, 1, FaultKind::io_error});
  CHECK(plan.next(Op::snapshot) == FaultKind::io_error);  // counting starts again from 1
  CHECK(plan.calls(Op::snapshot) == 1);
}

TEST_CASE("fault plan: errno_of maps each fault kind to its errno", "[fault_plan]") {
  using snapcell::fake::errno_of;
  CHECK(errno_of(FaultKind::busy) == EBUSY);
  CHECK(errno_of(FaultKind::no_space) == ENOSPC);
  CHECK(errno_of(FaultKind::io_error) == EIO);
  CHECK(errno_of(FaultKind::permission_denied) == EACCES);
  CHECK(errno_of(FaultKind::crash) == EIO);
}

TEST_CASE("fault plan: every fault kind is listed once, by severity, with a distinct name", "[fault_plan]") {
  using snapcell::fake::all_fault_kinds;
  REQUIRE(std::size(all_fault_kinds) == 5);
  CHECK(all_fault_kinds[0] == FaultKind::busy);
  CHECK(all_fault_kinds[1] == FaultKind::no_space);
  CHECK(all_fault_kinds[2] == FaultKind::io_error);
  CHECK(all_fault_kinds[3] == FaultKind::permission_denied);
  CHECK(all_fault_kinds[4] == FaultKind::crash);
  std::set<std::string_view> names;
  for (FaultKind kind : all_fault_kinds) {
    CHECK_FALSE(to_string(kind).empty());
    CHECK(to_string(kind) != "?");
    names.insert(to_string(kind));
  }
  CHECK(names.size() == 5);
  CHECK(to_string(FaultKind::crash) == "controller crash");
  CHECK(to_string(FaultKind::io_error) == "I/O error");
}

TEST_CASE("fault plan: every operation has a distinct, non-empty name", "[fault_plan]") {
  REQUIRE(op_count == 25);
  std::set<std::string_view> names;
  for (int i = 0; i < op_count; ++i) {
    std::string_view name = to_string(static_cast<Op>(i));
    INFO("op " << i);
    CHECK_FALSE(name.empty());
    names.insert(name);
  }
  CHECK(names.size() == static_cast<std::size_t>(op_count));
  CHECK(to_string(Op::journal_claim) == "journal claim");
  CHECK(to_string(Op::make_dir) == "mkdir");
  CHECK(to_string(Op::remove_dir) == "rmdir");
  CHECK(to_string(Op::facts) == "stat+mountinfo");
  CHECK(to_string(Op::unmount) == "umount2");
  CHECK(to_string(Op::unit_kill) == "kill all");
  CHECK(to_string(Op::unit_signal) == "signal member");
  CHECK(to_string(Op::unit_release) == "release unit");
}

TEST_CASE("fault plan: describe names the kind, the call and the operation", "[fault_plan]") {
  using snapcell::fake::describe;
  CHECK(describe(Fault{Op::unmount, 2, FaultKind::busy}) == "busy on call 2 of 'umount2'");
  CHECK(describe(Fault{Op::snapshot, 1, FaultKind::no_space}) == "no space on call 1 of 'snapshot'");
  CHECK(describe(Fault{Op::unit_wait, 7, FaultKind::crash}) == "controller crash on call 7 of 'wait'");
}

TEST_CASE("fault plan: fired() lists exactly the armed faults whose call came, in order, and clear forgets them",
          "[fault_plan]") {
  FaultPlan plan;
  plan.add(Fault{Op::snapshot, 2, FaultKind::no_space});
  plan.add(Fault{Op::unmount, 1, FaultKind::busy});
  plan.add(Fault{Op::unit_spawn, 1, FaultKind::crash});  // never called below: armed, never fired
  CHECK(plan.fired().empty());
  CHECK_FALSE(plan.next(Op::snapshot).has_value());
  CHECK(plan.fired().empty());  // call 1 of snapshot is not the armed one
  CHECK(plan.next(Op::unmount) == FaultKind::busy);
  CHECK(plan.next(Op::snapshot) == FaultKind::no_space);
  CHECK_FALSE(plan.next(Op::snapshot).has_value());
  REQUIRE(plan.fired().size() == 2);
  CHECK(plan.fired()[0].op == Op::unmount);
  CHECK(plan.fired()[1].op == Op::snapshot);
  CHECK(plan.fired()[1].call == 2);
  CHECK(plan.pending() == 1);  // the spawn fault is still waiting
  plan.clear();
  CHECK(plan.fired().empty());
}
