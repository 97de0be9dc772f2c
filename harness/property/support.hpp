#pragma once
// What every property test shares: the supervisor kinds under test and one
// run of a session followed by reap with every invariant checked on the way.
// Which behaviours each kind is held to, and when I7 applies, live in
// fake/simulation.hpp: the lifecycle fuzzer holds them to the same.

#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "snapcell/fake/simulation.hpp"

namespace snapcell::testing {

using namespace snapcell::fake;

#define SNAPCELL_ALL_SUPERVISORS \
  snapcell::fake::DefaultSupervisor, snapcell::fake::CgroupSupervisor, snapcell::fake::PidNamespaceSupervisor, \
      snapcell::fake::SessionSupervisor

#define REQUIRE_NO_VIOLATIONS(violations)      \
  do {                                         \
    const auto& found_ = (violations);         \
    INFO(snapcell::fake::describe(found_));    \
    REQUIRE(found_.empty());                   \
  } while (false)

struct RunResult {
  Report report;
  ReapReport reap;
  std::vector<Violation> violations;
  bool crashed = false;
  bool fault_fired = false;  // the armed fault's call came (not just armed)
};

// One session under an optional fault, then a reaper with no faults: the
// invariants hold at every step, and after the reap nothing of it is left.
template <class S>
RunResult run_with_fault(Behaviour behaviour, std::optional<Fault> fault) {
  Simulation<S> sim;
  auto& controller = sim.add_controller();
  if (fault) sim.world.faults().add(*fault);
  RunResult result;
  {
    auto session = sim.new_session(controller);
    result.report = session->run(sim.request(behaviour));
  }
  result.crashed = !sim.world.controller_alive(controller.id);
  result.fault_fired = fault && !sim.world.faults().fired().empty();
  append(result.violations, check_always(sim.world));
  if (!result.crashed && !result.report.session.empty())
    append(result.violations, check_nothing_leaked(sim.world, result.report));
  sim.world.exit_controller(controller.id);  // `snapcell run` is single-shot

  sim.world.faults().clear();
  result.reap = sim.reap();
  append(result.violations, check_always(sim.world));
  for (const auto& [name, entry] : sim.world.journal())
    append(result.violations, check_all_gone(sim.world, name, "after reap"));
  if (!result.report.session.empty())
    append(result.violations, check_all_gone(sim.world, result.report.session, "after reap"));
  // A dead controller enforces no deadline: after a crash, bounding the
  // build falls to the death signal (PID namespaces) or to reap (cgroups).
  let_time_pass(sim);
  if (!result.crashed) append(result.violations, check_bounded_if_containing(sim));
  return result;
}

}  // namespace snapcell::testing
