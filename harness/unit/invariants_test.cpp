// The invariant checks themselves: each one fires on a world made by hand to
// violate it, and stays quiet on one that does not.

#include <catch2/catch.hpp>

#include "snapcell/fake/simulation.hpp"

using namespace snapcell;
using namespace snapcell::fake;

namespace {

bool mentions(const std::vector<Violation>& violations, std::string_view invariant, std::string_view text) {
  return std::any_of(violations.begin(), violations.end(), [&](const Violation& v) {
    return v.invariant == invariant && v.what.find(text) != std::string::npos;
  });
}

FakeProcess& protected_shell(World& world) {
  for (auto& p : world.processes())
    if (p.label == "operator shell in /home") return p;
  FAIL("no operator shell in a new world");
  throw;
}

// A world with one clean session run to the end: the baseline every check accepts.
struct CleanRun {
  Simulation<DefaultSupervisor> sim;
  Report report;
  CleanRun() {
    auto& controller = sim.add_controller();
    report = sim.new_session(controller)->run(sim.request(Behaviour::setsid_escape));
  }
};

}  // namespace

TEST_CASE("the checks accept a world where a session ran and cleaned up", "[invariants]") {
  CleanRun run;
  CHECK(check_always(run.sim.world).empty());
  CHECK(check_nothing_leaked(run.sim.world, run.report).empty());
  CHECK(check_all_gone(run.sim.world, run.report.session, "now").empty());
  CHECK(check_bounded(run.sim.world, run.sim.config.grace, 64).empty());
}

TEST_CASE("I1 fires on a signal to a protected process", "[invariants]") {
  World world;
  world.deliver(protected_shell(world), SIGKILL, "snapcell-0000000000000001", false);
  CHECK(mentions(check_no_collateral(world), "I1", "protected process"));
}

TEST_CASE("I1 fires on a signal by bare pid, even to a build's own process", "[invariants]") {
  World world;
  FakeProcess build;
  build.lineage = "snapcell-0000000000000001";
  FakeProcess& added = world.add_process(build);
  FakeProcessTable(world, build.lineage).kill(added.pid, SIGTERM).or_throw();
  CHECK(mentions(check_no_collateral(world), "I1", "bare pid"));
}

TEST_CASE("I1 fires on a signal to another build's process", "[invariants]") {
  World world;
  FakeProcess other;
  other.lineage = "snapcell-00000000000000aa";
  world.deliver(world.add_process(other), SIGTERM, "snapcell-00000000000000bb", false);
  CHECK(mentions(check_no_collateral(world), "I1", "another build"));
}

TEST_CASE("I2 fires on a destructive action on the root device", "[invariants]") {
  World world;
  ControllerId controller = world.add_controller();
  world.record(controller, ActionKind::kill_by_mount, "device 1", root_device, "", {"sshd"});
  auto found = check_own_resources(world);
  CHECK(mentions(found, "I2", "root device"));
  CHECK(mentions(found, "I2", "sshd"));
}

TEST_CASE("I2 fires on an unmount of something that is no session's mount", "[invariants]") {
  World world;
  ControllerId controller = world.add_controller();
  world.journal()["snapcell-0000000000000001"] = {"", controller};
  world.record(controller, ActionKind::unmount, "/run/snapcell/snapcell-0000000000000001", run_device,
               "snapcell-0000000000000001", {}, /*target_is_sessions=*/false);
  CHECK(mentions(check_own_resources(world), "I2", "not a mount or device"));
}

TEST_CASE("I2 fires on removing a volume that carries no session name", "[invariants]") {
  World world;
  ControllerId controller = world.add_controller();
  world.record(controller, ActionKind::remove_volume, "base", 10, "");
  CHECK(mentions(check_own_resources(world), "I2", "no session's resource"));
}

TEST_CASE("I6 fires on a destructive action by a controller that does not hold the record", "[invariants]") {
  World world;
  ControllerId owner = world.add_controller();
  ControllerId reaper = world.add_controller();
  world.journal()["snapcell-0000000000000001"] = {"", owner};
  world.record(reaper, ActionKind::remove_volume, "snapcell-0000000000000001", 10, "snapcell-0000000000000001");
  CHECK(mentions(check_own_resources(world), "I6", "did not hold"));
}

TEST_CASE("I5 fires on a session acting under a name another controller holds", "[invariants]") {
  World world;
  ControllerId first = world.add_controller();
  ControllerId second = world.add_controller();
  world.journal()["snapcell-0000000000000001"] = {"", first};
  world.record(second, ActionKind::snapshot, "snapcell-0000000000000001", 0, "snapcell-0000000000000001");
  CHECK(mentions(check_own_resources(world), "I5", "did not hold"));
}

TEST_CASE("I3 fires on leftovers the report does not name", "[invariants]") {
  CleanRun run;
  const std::string& name = run.report.session;
  World& world = run.sim.world;
  world.volumes()[name] = FakeVolume{name, "base", world.new_device(), {}};
  world.dirs()[mount_point_for(world.options().run_dir, name)] = run_device;
  FakeProcess left;
  left.lineage = name;
  world.add_process(left);
  auto found = check_nothing_leaked(world, run.report);
  CHECK(mentions(found, "I3", "volume remains"));
  CHECK(mentions(found, "I3", "mount point"));
  CHECK(mentions(found, "I3", "containment reported proven"));
  CHECK(mentions(found, "I3", "does not name it"));
  CHECK_FALSE(check_all_gone(world, name, "now").empty());

  Report honest = run.report;
  honest.containment_proven = false;
  honest.remain(ResourceKind::volume, name, "busy");
  honest.remain(ResourceKind::mount_point, mount_point_for(world.options().run_dir, name), "busy");
  honest.remain(ResourceKind::process, leftovers_of(world, name).processes.front(), "survived");
  CHECK(check_nothing_leaked(world, honest).empty());
}

TEST_CASE("I4 fires when the origin's content changes or the origin is gone", "[invariants]") {
  World world;
  world.volumes().at("base").files["/etc/passwd"] = "owned";
  CHECK(mentions(check_base_untouched(world), "I4", "content changed"));
  world.volumes().erase("base");
  CHECK(mentions(check_base_untouched(world), "I4", "gone"));
}

TEST_CASE("I7 fires on a process alive past deadline plus grace, and on a build over its process cap", "[invariants]") {
  World world;
  FakeProcess build;
  build.lineage = "snapcell-0000000000000001";
  world.add_process(build);
  world.deadline_enforced()[build.lineage] = 0;
  world.advance_to(500);
  CHECK(check_bounded(world, Millis{500}, 64).empty());
  world.advance_to(501);
  CHECK(mentions(check_bounded(world, Millis{500}, 64), "I7", "past its deadline"));

  for (int i = 0; i < 3; ++i) world.fork(world.processes().back(), Script::sleeps);
  CHECK(mentions(check_bounded(world, Millis{10'000}, 3), "I7", "over the cap"));
}
