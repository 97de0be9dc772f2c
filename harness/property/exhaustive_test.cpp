// Every fault point of one session: for each supervisor and behaviour, each
// operation fails on each of its calls in each way (or the controller dies
// there), and still nothing leaks, nothing outside is touched, and a reap
// afterwards leaves nothing. A fault point counts only when its fault fired
// (the fault plan records it): a fault armed on a call that never comes
// tested nothing.

#include <map>

#include "property/support.hpp"

using namespace snapcell;
using namespace snapcell::testing;

namespace {

// How often each operation is called in a fault-free run: the fault points.
template <class S>
std::map<Op, int> calls_without_faults(Behaviour behaviour) {
  Simulation<S> sim;
  auto& controller = sim.add_controller();
  auto session = sim.new_session(controller);
  (void)session->run(sim.request(behaviour));
  std::map<Op, int> calls;
  for (int op = 0; op < op_count; ++op)
    if (int n = sim.world.faults().calls(static_cast<Op>(op)); n > 0) calls[static_cast<Op>(op)] = n;
  return calls;
}

}  // namespace

TEMPLATE_TEST_CASE("every fault point of a session leaks nothing and touches nothing else", "[exhaustive]",
                   SNAPCELL_ALL_SUPERVISORS) {
  int fault_points = 0;
  int armed = 0;
  for (Behaviour behaviour : behaviours_for<TestType>()) {
    for (auto [op, calls] : calls_without_faults<TestType>(behaviour)) {
      for (int call = 1; call <= calls; ++call) {
        for (FaultKind kind : all_fault_kinds) {
          Fault fault{op, call, kind};
          RunResult result = run_with_fault<TestType>(behaviour, fault);
          INFO(TestType::kind << " supervisor, behaviour " << to_string(behaviour) << ", fault: " << describe(fault));
          INFO(format_report(result.report));
          REQUIRE_NO_VIOLATIONS(result.violations);
          ++armed;
          // One fault on the Nth call of an op a fault-free run calls at
          // least N times: the run is the same up to that call, so it comes.
          CHECK(result.fault_fired);
          if (result.fault_fired) ++fault_points;
        }
      }
    }
  }
  WARN(TestType::kind << ": " << fault_points << " fault points fired (of " << armed << " armed), no leak, no collateral");
  CHECK(fault_points > 100);
}

TEMPLATE_TEST_CASE("every fault point of a reap after a crash leaves nothing once reaped again", "[exhaustive]",
                   SNAPCELL_ALL_SUPERVISORS) {
  int fault_points = 0;
  int armed = 0;
  for (Behaviour behaviour : behaviours_for<TestType>()) {
    // The controller dies right after the spawn: everything is acquired.
    for (int op = 0; op < op_count; ++op) {
      for (int call = 1; call <= 3; ++call) {
        for (FaultKind kind : all_fault_kinds) {
          Simulation<TestType> sim;
          auto& controller = sim.add_controller();
          sim.world.faults().add({Op::unit_wait, 1, FaultKind::crash});
          std::string name;
          {
            auto session = sim.new_session(controller);
            (void)session->run(sim.request(behaviour));
            name = session->name();
          }
          sim.world.faults().clear();
          Fault fault{static_cast<Op>(op), call, kind};
          sim.world.faults().add(fault);
          (void)sim.reap();  // may fail part-way, or its reaper may die
          const bool fired = !sim.world.faults().fired().empty();
          sim.world.faults().clear();
          (void)sim.reap();
          INFO(TestType::kind << " supervisor, behaviour " << to_string(behaviour) << ", reap fault: " << describe(fault));
          auto violations = check_always(sim.world);
          append(violations, check_all_gone(sim.world, name, "after the second reap"));
          REQUIRE_NO_VIOLATIONS(violations);
          ++armed;
          if (fired) ++fault_points;  // reap never calls snapshot, mount, spawn, launch or wait
        }
      }
    }
  }
  WARN(TestType::kind << ": " << fault_points << " reap fault points fired (of " << armed
                      << " armed) after a crash, all cleaned by the next reap");
  CHECK(fault_points > 100);
}
