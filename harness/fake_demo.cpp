// The Session on the simulated kernel, against the adversaries of the field:
// what each supervisor leaves behind, side by side.

#include <cstdio>

#include <fmt/format.h>

#include "snapcell/fake/simulation.hpp"

namespace {

template <class S>
void run_all_behaviours() {
  using namespace snapcell::fake;
  for (Behaviour behaviour : all_behaviours) {
    Simulation<S> sim;
    auto& controller = sim.add_controller();
    auto session = sim.new_session(controller);
    snapcell::Report report = session->run(sim.request(behaviour));
    sim.world.advance_to(sim.world.now() + 10'000);
    auto violations = check_always(sim.world);
    append(violations, check_nothing_leaked(sim.world, report));
    if (S::containment == snapcell::Containment::full || escapes_process_group(behaviour))
      append(violations, check_bounded(sim.world, sim.config.grace, sim.config.limits.max_processes));
    Leftovers left = leftovers_of(sim.world, report.session);
    fmt::print("{:<8} {:<18} {:<15} processes left {:<2} volume {:<7} violations {}\n", S::kind, to_string(behaviour),
               report.clean() ? "clean" : "left resources", left.processes.size(),
               left.volume ? "left" : "removed", violations.size());
  }
}

}  // namespace

int main() {
  using namespace snapcell::fake;
  run_all_behaviours<DefaultSupervisor>();
  run_all_behaviours<CgroupSupervisor>();
  run_all_behaviours<PidNamespaceSupervisor>();
  run_all_behaviours<SessionSupervisor>();
  return 0;
}
