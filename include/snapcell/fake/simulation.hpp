#pragma once
// A fake world with controllers, each with its own set of fake policies, and
// sessions running on them: what the tests, the fuzzers and the stateful
// model drive. One seed drives every random choice.

#include <deque>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "snapcell/fake/fake.hpp"
#include "snapcell/fake/invariants.hpp"
#include "snapcell/reap.hpp"
#include "snapcell/session.hpp"

namespace snapcell::fake {

template <class S>
struct FakeController {
  FakeController(World& world, ControllerId id)
      : id(id), volumes(world, id), mounter(world, id), supervisor(world, id), journal(world, id) {}
  ControllerId id;
  FakeVolumes volumes;
  FakeMounter mounter;
  S supervisor;
  FakeJournal journal;
  Policies<FakeVolumes, FakeMounter, S> policies() { return {volumes, mounter, supervisor}; }
};

template <class S>
class Simulation {
 public:
  using FakeSession = Session<FakeVolumes, FakeMounter, S, FakeJournal>;

  explicit Simulation(WorldOptions options = {}) : world(std::move(options)) {
    config.run_dir = world.options().run_dir;
    config.deadline = Millis{1'000};
    config.grace = Millis{100};
    config.limits.max_processes = 64;
  }

  FakeController<S>& add_controller() { return controllers_.emplace_back(world, world.add_controller()); }

  std::unique_ptr<FakeSession> new_session(FakeController<S>& controller) {
    return new_session(controller, [this] { return world.random()(); });
  }

  std::unique_ptr<FakeSession> new_session(FakeController<S>& controller, typename FakeSession::NonceSource nonce) {
    return std::make_unique<FakeSession>(controller.volumes, controller.mounter, controller.supervisor,
                                         controller.journal, config, std::move(nonce));
  }

  // Reap from a controller of its own, as `snapcell reap` run after a crash.
  ReapReport reap() {
    auto& reaper = add_controller();
    ReapConfig reap_config{config.prefix, config.run_dir, config.grace};
    ReapReport report = snapcell::reap(reaper.policies(), reaper.journal, reap_config);
    world.exit_controller(reaper.id);  // and exits, dropping whatever it still held
    return report;
  }

  static BuildRequest request(Behaviour behaviour) { return {"base", {std::string(to_string(behaviour))}, "", {}}; }

  World world;
  SessionConfig config;

 private:
  std::deque<FakeController<S>> controllers_;  // a deque: sessions keep references to their policies
};

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

// I7 binds only a containing supervisor: a weak one's escapes outlive any
// deadline by design. `exempt` names sessions it cannot bind either (their
// controller died, or the kernel refused every kill).
template <class S>
std::vector<Violation> check_bounded_if_containing(const Simulation<S>& sim,
                                                   const std::set<std::string>& exempt = {}) {
  if (S::containment != Containment::full) return {};
  return check_bounded(sim.world, sim.config.grace, sim.config.limits.max_processes, exempt);
}

}  // namespace snapcell::fake
