#pragma once
// What every property test shares: the supervisor kinds under test, which
// behaviours each can be held to, and one run of a session followed by reap
// with every invariant checked on the way.

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

// A weak supervisor is held to every invariant only by builds that stay in
// their process group; the escapes are what its own test shows it missing.
template <class S>
std::vector<Behaviour> behaviours_for() {
  std::vector<Behaviour> chosen;
  for (Behaviour behaviour : all_behaviours)
    if (S::containment == Containment::full || !escapes_process_group(behaviour)) chosen.push_back(behaviour);
  return chosen;
}

// Later: time passes, as it would before anyone looks again. What a
// supervisor could not kill now visibly outlives its deadline (I7).
template <class S>
void let_time_pass(Simulation<S>& sim) {
  sim.world.advance_to(sim.world.now() + sim.config.deadline.count() + sim.config.grace.count() + 1);
}

template <class S>
std::vector<Violation> check_bounded_if_containing(Simulation<S>& sim) {
  if (S::containment != Containment::full) return {};
  return check_bounded(sim.world, sim.config.grace, sim.config.limits.max_processes);
}

struct RunResult {
  Report report;
  ReapReport reap;
  std::vector<Violation> violations;
  bool crashed = false;
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
