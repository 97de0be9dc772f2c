// The fake supervisors: what each mechanism sees and kills, on the fake kernel.

#include <catch2/catch.hpp>

#include "snapcell/fake/simulation.hpp"

using namespace snapcell;
using namespace snapcell::fake;

namespace {

template <class S>
struct Spawned {
  World world;
  ControllerId controller = world.add_controller();
  S supervisor{world, controller};
  FakeUnit unit = supervisor.unit_for("snapcell-0000000000000001");

  explicit Spawned(Behaviour behaviour) {
    world.dirs()["/run/snapcell/snapcell-0000000000000001"] = run_device;
    SpawnSpec spec{"/run/snapcell/snapcell-0000000000000001", {std::string(to_string(behaviour))}, Limits{}, "", {}};
    supervisor.spawn(unit, spec).or_throw();
    supervisor.launch(unit).or_throw();
  }
  int alive() const { return world.live_in_lineage(unit.session); }
};

}  // namespace

TEMPLATE_TEST_CASE("fake supervisors: a setsid escape is contained by cgroup and pidns, not by the process group",
                   "[fake-supervisor]", SessionSupervisor, CgroupSupervisor, PidNamespaceSupervisor, DefaultSupervisor) {
  Spawned<TestType> s(Behaviour::setsid_escape);
  REQUIRE(s.alive() >= 2);
  REQUIRE(s.supervisor.kill_all(s.unit, Millis{100}));
  auto survivors = s.supervisor.survivors(s.unit);
  REQUIRE(survivors);
  CHECK(survivors->empty());  // every supervisor believes it is done...
  if (TestType::containment == Containment::full)
    CHECK(s.alive() == 0);
  else
    CHECK(s.alive() == 1);  // ...but the process group could not see the escaped child
}

TEMPLATE_TEST_CASE("fake supervisors: a process ignoring SIGTERM dies by SIGKILL after the grace period",
                   "[fake-supervisor]", SessionSupervisor, CgroupSupervisor, PidNamespaceSupervisor, DefaultSupervisor) {
  Spawned<TestType> s(Behaviour::ignores_term);
  Time before = s.world.now();
  REQUIRE(s.supervisor.kill_all(s.unit, Millis{250}));
  CHECK(s.alive() == 0);
  CHECK(s.world.now() == before + 250);
}

TEMPLATE_TEST_CASE("fake supervisors: wait reports the exit, or the deadline", "[fake-supervisor]", SessionSupervisor,
                   CgroupSupervisor, PidNamespaceSupervisor, DefaultSupervisor) {
  Spawned<TestType> done(Behaviour::well_behaved);
  auto exited = done.supervisor.wait(done.unit, Millis{1000});
  REQUIRE(exited);
  CHECK_FALSE(exited->timed_out);
  CHECK(done.world.now() == 10);

  Spawned<TestType> slow(Behaviour::sleeps_past_deadline);
  auto timed_out = slow.supervisor.wait(slow.unit, Millis{1000});
  REQUIRE(timed_out);
  CHECK(timed_out->timed_out);
  CHECK(slow.world.now() == 1000);
}

TEMPLATE_TEST_CASE("fake supervisors: signal_member refuses a process outside the unit", "[fake-supervisor]",
                   SessionSupervisor, CgroupSupervisor, PidNamespaceSupervisor, DefaultSupervisor) {
  Spawned<TestType> s(Behaviour::sleeps_past_deadline);
  Status refused = s.supervisor.signal_member(s.unit, 1, SIGKILL);  // init
  REQUIRE_FALSE(refused);
  CHECK(refused.code() == 0);
  CHECK(s.world.signals().empty());
}

TEMPLATE_TEST_CASE("fake supervisors: held at the handshake, a build dies with its controller", "[fake-supervisor]",
                   SessionSupervisor, CgroupSupervisor, PidNamespaceSupervisor, DefaultSupervisor) {
  World world;
  ControllerId controller = world.add_controller();
  TestType supervisor(world, controller);
  FakeUnit unit = supervisor.unit_for("snapcell-0000000000000001");
  world.dirs()["/run/snapcell/snapcell-0000000000000001"] = run_device;
  supervisor.spawn(unit, {"/run/snapcell/snapcell-0000000000000001", {"sleeps"}, Limits{}, "", {}}).or_throw();
  REQUIRE(world.live_in_lineage(unit.session) > 0);
  world.crash(controller);
  CHECK(world.live_in_lineage(unit.session) == 0);
}

TEST_CASE("fake supervisors: a cgroup's release refuses while populated", "[fake-supervisor]") {
  Spawned<CgroupSupervisor> s(Behaviour::sleeps_past_deadline);
  CHECK(s.supervisor.release(s.unit).code() == EBUSY);
  REQUIRE(s.supervisor.kill_all(s.unit, Millis{10}));
  REQUIRE(s.supervisor.release(s.unit));
  CHECK(s.world.cgroups().count(s.unit.cgroup) == 0);
}

TEST_CASE("fake supervisors: a unit reads back from its journal text, and only for its own session", "[fake-supervisor]") {
  Spawned<DefaultSupervisor> s(Behaviour::well_behaved);
  auto parsed = FakeUnit::parse(s.unit.serialize());
  REQUIRE(parsed);
  CHECK(parsed->serialize() == s.unit.serialize());
  CHECK(parsed->belongs_to("snapcell-0000000000000001"));
  CHECK_FALSE(parsed->belongs_to("snapcell-0000000000000002"));
  CHECK_FALSE(FakeUnit::parse("default snapcell-0000000000000001 /x 1 2"));
  CHECK_FALSE(FakeUnit::parse(s.unit.serialize() + " extra"));
}
