// Runs one session on the fake world through the installed headers.
#include <cstdio>

#include <snapcell/fake/simulation.hpp>
#include <snapcell/snapcell.hpp>

int main() {
  snapcell::fake::Simulation<snapcell::fake::DefaultSupervisor> simulation;
  auto& controller = simulation.add_controller();
  auto session = simulation.new_session(controller);
  snapcell::Report report = session->run(simulation.request(snapcell::fake::Behaviour::well_behaved));
  std::fputs(snapcell::format_report(report).c_str(), stdout);
  return report.clean() ? 0 : 1;
}
