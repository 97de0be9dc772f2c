// The Session's contract with its caller: validation, order of steps,
// idempotent teardown, the refusal to make mount points on `/`.

#include <catch2/catch.hpp>

#include "snapcell/fake/simulation.hpp"

using namespace snapcell;
using namespace snapcell::fake;

namespace {
using Sim = Simulation<DefaultSupervisor>;
}

TEST_CASE("session: bad input is refused before anything is claimed", "[session]") {
  Sim sim;
  auto& controller = sim.add_controller();
  struct Case {
    BuildRequest request;
    std::string detail;
  };
  const Case cases[] = {
      {{"", {"well-behaved"}, "", {}}, "is empty"},
      {{"base", {}, "", {}}, "is empty"},
      {{"base", {""}, "", {}}, "program name is empty"},
      {{"ba\nse", {"well-behaved"}, "", {}}, "control character"},
      {{"base", {std::string("a\0b", 3)}, "", {}}, "NUL"},
  };
  for (const auto& c : cases) {
    auto session = sim.new_session(controller);
    Status begun = session->begin(c.request);
    REQUIRE_FALSE(begun);
    CHECK_THAT(begun.error().message(), Catch::Contains(c.detail));
  }
  CHECK(sim.world.journal().empty());
  CHECK(sim.world.actions().empty());
}

TEST_CASE("session: a bad prefix or run dir is refused", "[session]") {
  Sim sim;
  auto& controller = sim.add_controller();
  sim.config.prefix = "bad prefix";
  CHECK_THAT(sim.new_session(controller)->begin(sim.request(Behaviour::well_behaved)).error().message(),
             Catch::Contains("a-z"));
  sim.config.prefix = "snapcell";
  sim.config.run_dir = "/run/../etc";
  CHECK_THAT(sim.new_session(controller)->begin(sim.request(Behaviour::well_behaved)).error().message(),
             Catch::Contains("'..'"));
  CHECK(sim.world.journal().empty());
}

TEST_CASE("session: a run dir on the root filesystem is refused before any mkdir", "[session]") {
  Sim sim;
  auto& controller = sim.add_controller();
  sim.config.run_dir = "/home";
  auto session = sim.new_session(controller);
  REQUIRE(session->begin(sim.request(Behaviour::well_behaved)));
  Status setup = session->setup();
  REQUIRE_FALSE(setup);
  CHECK_THAT(setup.error().message(), Catch::Contains("root filesystem"));
  Report report = session->teardown();
  CHECK(report.clean());
  for (const auto& action : sim.world.actions()) CHECK(action.kind != ActionKind::mkdir);
}

TEST_CASE("session: steps out of order are refused and change nothing", "[session]") {
  Sim sim;
  auto& controller = sim.add_controller();
  auto session = sim.new_session(controller);
  CHECK_THAT(session->setup().error().message(), Catch::Contains("out of order"));
  CHECK_THAT(session->start().error().message(), Catch::Contains("out of order"));
  CHECK_FALSE(session->wait());
  REQUIRE(session->begin(sim.request(Behaviour::well_behaved)));
  CHECK_FALSE(session->begin(sim.request(Behaviour::well_behaved)));
  CHECK_FALSE(session->start());
  CHECK(sim.world.actions().empty());
}

TEST_CASE("session: names follow the convention and are claimed in the journal", "[session]") {
  Sim sim;
  auto& controller = sim.add_controller();
  auto session = sim.new_session(controller, [] { return std::uint64_t{0xabc}; });
  REQUIRE(session->begin(sim.request(Behaviour::well_behaved)));
  CHECK(session->name() == "snapcell-0000000000000abc");
  CHECK(session->plan().mount_point == "/run/snapcell/snapcell-0000000000000abc");
  auto plan = parse_plan(sim.world.journal().at(session->name()).content);
  REQUIRE(plan);
  CHECK(*plan == session->plan());
  CHECK(sim.world.holds(controller.id, session->name()));
}

TEST_CASE("session: teardown is idempotent and the destructor tears down", "[session]") {
  Sim sim;
  auto& controller = sim.add_controller();
  std::string name;
  {
    auto session = sim.new_session(controller);
    REQUIRE(session->begin(sim.request(Behaviour::sleeps_past_deadline)));
    REQUIRE(session->setup());
    REQUIRE(session->start());
    name = session->name();
    CHECK_FALSE(leftovers_of(sim.world, name).processes.empty());
  }
  CHECK(check_all_gone(sim.world, name, "after destruction").empty());

  auto session = sim.new_session(controller);
  Report first = session->run(sim.request(Behaviour::well_behaved));
  Report second = session->teardown();
  CHECK(first.clean());
  CHECK(second.clean());
  // The record is settled: nothing is the session's to touch any more.
  REQUIRE(second.steps.size() == 1);
  CHECK(second.steps.front().step == "journal");
  CHECK(second.steps.front().outcome == Outcome::absent);
}

TEST_CASE("session: the report carries the build's outcome and per-phase timings", "[session]") {
  Sim sim;
  auto& controller = sim.add_controller();
  Report finished = sim.new_session(controller)->run(sim.request(Behaviour::well_behaved));
  REQUIRE(finished.build);
  CHECK_FALSE(finished.build->timed_out);
  Report killed = sim.new_session(controller)->run(sim.request(Behaviour::ignores_term));
  REQUIRE(killed.build);
  CHECK(killed.build->timed_out);
  std::vector<std::string> phases;
  for (const auto& [phase, ms] : killed.phase_ms) phases.push_back(phase);
  CHECK(phases == std::vector<std::string>{"validate", "claim", "mkdir", "snapshot", "mount", "prove", "spawn", "build",
                                           "kill", "verify", "release", "unmount", "rmdir", "remove", "teardown"});
}

// The builder's order: wait, stop (every process gone, proven), read the
// outputs from the still-mounted snapshot, then teardown, which keeps stop's
// kill and verify steps in the report and does the rest.
TEST_CASE("session: stop kills and verifies but keeps the mount, teardown finishes the rest", "[session]") {
  Sim sim;
  auto& controller = sim.add_controller();
  auto session = sim.new_session(controller);
  REQUIRE(session->begin(sim.request(Behaviour::double_fork)));
  REQUIRE(session->setup());
  REQUIRE(session->start());
  REQUIRE(session->wait());
  CHECK(session->stop());
  CHECK(session->phase() == Phase::stopped);
  CHECK(sim.world.top_mount_at(session->plan().mount_point) != nullptr);
  CHECK(sim.world.live_in_lineage(session->name()) == 0);
  CHECK_FALSE(session->stop());  // once only
  Report report = session->teardown();
  CHECK(report.clean());
  std::vector<std::string> steps;
  for (const auto& step : report.steps) steps.push_back(step.step);
  CHECK(steps.front() == "kill");
  CHECK(std::find(steps.begin(), steps.end(), "unmount") != steps.end());
  CHECK(sim.world.top_mount_at(session->plan().mount_point) == nullptr);
}

TEST_CASE("session: stop is refused before the build finished", "[session]") {
  Sim sim;
  auto& controller = sim.add_controller();
  auto session = sim.new_session(controller);
  REQUIRE(session->begin(sim.request(Behaviour::well_behaved)));
  CHECK_FALSE(session->stop());
  REQUIRE(session->setup());
  CHECK_FALSE(session->stop());
  CHECK(session->teardown().clean());
}

TEST_CASE("session: a mount that is not proven its own stops the session before anything runs", "[session]") {
  Sim sim;
  auto& controller = sim.add_controller();
  auto session = sim.new_session(controller);
  REQUIRE(session->begin(sim.request(Behaviour::well_behaved)));
  // Someone mounts over the mount point between our mount and our proof.
  sim.world.faults().add({Op::facts, 2, FaultKind::busy});
  Status setup = session->setup();
  REQUIRE_FALSE(setup);
  CHECK(setup.code() == EBUSY);
  CHECK_FALSE(session->start());
  CHECK(session->teardown().clean());
  CHECK(check_always(sim.world).empty());
}

TEST_CASE("session: with verification off (benchmarks only) a run skips the proofs and still leaves nothing", "[session]") {
  Sim sim;
  auto& controller = sim.add_controller();
  sim.config.verify = false;
  auto session = sim.new_session(controller);
  Report report = session->run(sim.request(Behaviour::well_behaved));
  const std::string name = session->name();
  CHECK(report.clean());
  CHECK_FALSE(report.containment_proven);  // nothing listed the survivors: nothing is proven
  std::vector<std::string> phases;
  for (const auto& [phase, ms] : report.phase_ms) phases.push_back(phase);
  CHECK(phases == std::vector<std::string>{"validate", "claim", "mkdir", "snapshot", "mount", "spawn", "build", "teardown"});
  for (const auto& step : report.steps)
    if (step.step != "journal") CHECK(step.detail == "unverified");
  CHECK(check_all_gone(sim.world, name, "after an unverified run").empty());
  CHECK(check_always(sim.world).empty());
}

TEST_CASE("report: command_ms is the command's own life, spawn to stop, and empty when it never spawned", "[session][report]") {
  Report report;
  report.add_ms("snapshot", 900);
  report.add_ms("mount", 50);
  CHECK_FALSE(report.command_ms().has_value());  // setup alone: no command lived
  report.add_ms("spawn", 2);
  report.add_ms("build", 1000);
  report.add_ms("stop", 30);
  report.add_ms("stop", 10);  // a repeat sums into its phase
  report.add_ms("teardown", 700);
  REQUIRE(report.command_ms().has_value());
  CHECK(*report.command_ms() == 1042);

  Sim sim;
  auto& controller = sim.add_controller();
  auto session = sim.new_session(controller);
  Report run = session->run(sim.request(Behaviour::well_behaved));
  double spawn_to_stop = 0;
  for (const auto& [phase, ms] : run.phase_ms)
    if (phase == "spawn" || phase == "build" || phase == "stop") spawn_to_stop += ms;
  REQUIRE(run.command_ms().has_value());
  CHECK(*run.command_ms() == spawn_to_stop);
}
