// Writes the journal records a session really writes (serialize_plan output,
// read back from the simulated kernel's journal after begin, setup and
// start) as seeds for the names target, mode 2: "2" prefix NUL run_dir NUL
// record. Used by fuzz/seeds/collect; not part of the build.
//   g++ -std=c++20 -Iinclude fuzz/seeds/journal_records.cpp -lfmt -o records && ./records OUT_DIR

#include <cstdio>
#include <fstream>
#include <string>

#include "snapcell/fake/simulation.hpp"

using namespace snapcell;
using namespace snapcell::fake;

namespace {

void write_seed(const std::string& dir, const std::string& name, const std::string& prefix,
                const std::string& run_dir, const std::string& record) {
  std::ofstream out(dir + "/" + name, std::ios::binary);
  out << '2' << prefix << '\0' << run_dir << '\0' << record;
}

template <class S>
void records_of(const std::string& dir) {
  Simulation<S> sim;
  auto& controller = sim.add_controller();
  auto session = sim.new_session(controller);
  const auto record = [&] { return sim.world.journal().at(session->name()).content; };
  const std::string stem = std::string("journal-") + std::string(S::kind);
  const std::string& prefix = sim.config.prefix;
  const std::string& run_dir = sim.config.run_dir;
  if (!session->begin(sim.request(Behaviour::well_behaved))) return;
  write_seed(dir, stem + "-claimed", prefix, run_dir, record());
  if (!session->setup()) return;
  write_seed(dir, stem + "-mounted", prefix, run_dir, record());
  if (!session->start()) return;
  write_seed(dir, stem + "-running", prefix, run_dir, record());
  (void)session->wait();
  (void)session->teardown();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  records_of<DefaultSupervisor>(argv[1]);
  records_of<SessionSupervisor>(argv[1]);
  return 0;
}
