// reap: adopts only what no live controller holds, trusts a record only as
// far as the naming convention agrees, finds orphans by name.

#include <catch2/catch.hpp>

#include "snapcell/fake/simulation.hpp"

using namespace snapcell;
using namespace snapcell::fake;

namespace {
using Sim = Simulation<DefaultSupervisor>;
}

TEST_CASE("reap: a forged record that names another resource is not followed", "[reap]") {
  Sim sim;
  auto& owner = sim.add_controller();
  const std::string name = "snapcell-00000000000000f0";
  SessionPlan forged = plan_for(name, "base", sim.config.run_dir, "fake", "default");
  forged.volume = "base";          // the origin itself
  forged.mount_point = "/home";    // a directory on the root filesystem
  sim.world.journal()[name] = {serialize_plan(forged), owner.id};
  sim.world.crash(owner.id);

  ReapReport reaped = sim.reap();
  REQUIRE(reaped.sessions.size() == 1);
  INFO(format_report(reaped.sessions.front()));
  CHECK(sim.world.volumes().count("base") == 1);
  CHECK(sim.world.dir_exists("/home"));
  CHECK(check_always(sim.world).empty());
  CHECK(reaped.clean());
}

TEST_CASE("reap: an orphaned volume and mount point without a record are claimed, then removed", "[reap]") {
  Sim sim;
  const std::string name = "snapcell-00000000000000f1";
  sim.world.volumes()[name] = FakeVolume{name, "base", sim.world.new_device(), {}};  // a crash lost its record
  sim.world.dirs()[mount_point_for(sim.config.run_dir, name)] = run_device;
  sim.world.dirs()[sim.config.run_dir + "/not-a-session"] = run_device;

  ReapReport reaped = sim.reap();
  REQUIRE(reaped.sessions.size() == 1);
  CHECK(reaped.sessions.front().session == name);
  CHECK(check_all_gone(sim.world, name, "after reap").empty());
  CHECK(sim.world.dir_exists(sim.config.run_dir + "/not-a-session"));
  CHECK(check_always(sim.world).empty());
}

TEST_CASE("reap: a record of another backend or supervisor kind is left for that kind's reap", "[reap]") {
  Sim sim;
  auto& owner = sim.add_controller();
  const std::string session_kind = "snapcell-00000000000000f2";
  const std::string lvm_kind = "snapcell-00000000000000f3";
  sim.world.journal()[session_kind] = {serialize_plan(plan_for(session_kind, "base", sim.config.run_dir, "fake", "session")),
                                       owner.id};
  sim.world.journal()[lvm_kind] = {serialize_plan(plan_for(lvm_kind, "base", sim.config.run_dir, "lvm", "default")),
                                   owner.id};
  sim.world.crash(owner.id);
  ReapReport reaped = sim.reap();
  CHECK(reaped.sessions.empty());
  CHECK(reaped.other_kind == std::vector<std::string>{session_kind, lvm_kind});
  CHECK(reaped.clean());
  CHECK(sim.world.journal().count(session_kind) == 1);
  CHECK(sim.world.journal().count(lvm_kind) == 1);
  CHECK_FALSE(sim.world.journal().at(lvm_kind).holder.has_value());  // released again for the right reap
}

TEST_CASE("reap: bad configuration is an error, not a walk over everything", "[reap]") {
  Sim sim;
  auto& reaper = sim.add_controller();
  ReapReport reaped = reap(reaper.policies(), reaper.journal, ReapConfig{"snapcell", "relative/dir", Millis{10}});
  REQUIRE(reaped.errors.size() == 1);
  CHECK_THAT(reaped.errors.front().message(), Catch::Contains("not absolute"));
  CHECK(sim.world.actions().empty());
}
