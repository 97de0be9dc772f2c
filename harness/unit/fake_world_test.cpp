// The simulated kernel behaves as Linux does where it matters to snapcell.

#include <catch2/catch.hpp>

#include "snapcell/fake/simulation.hpp"

using namespace snapcell;
using namespace snapcell::fake;

namespace {

struct Fixture {
  World world;
  ControllerId controller = world.add_controller();
  FakeVolumes volumes{world, controller};
  FakeMounter mounter{world, controller};
  const std::string mount_point = world.options().run_dir + "/snapcell-0000000000000001";
};

}  // namespace

TEST_CASE("fake kernel: a snapshot copies its origin and a full volume group says ENOSPC", "[fake]") {
  WorldOptions options;
  options.capacity = 1;
  World world(options);
  FakeVolumes volumes(world, world.add_controller());
  auto spec = volumes.snapshot("base", "snapcell-0000000000000001");
  REQUIRE(spec);
  CHECK(world.volumes().at("snapcell-0000000000000001").files == world.volumes().at("base").files);
  CHECK(volumes.snapshot("base", "snapcell-0000000000000002").code() == ENOSPC);
  CHECK(volumes.snapshot("nothing", "snapcell-0000000000000003").code() == ENOENT);
  CHECK(volumes.snapshot("base", "snapcell-0000000000000001").code() == EEXIST);
}

TEST_CASE("fake kernel: mount, stat and mountinfo agree, umount2 says EINVAL, EBUSY as Linux does", "[fake]") {
  Fixture f;
  REQUIRE(f.mounter.make_dir(f.mount_point));
  CHECK(f.mounter.make_dir(f.mount_point).code() == EEXIST);
  auto bare = f.mounter.facts(f.mount_point);
  REQUIRE(bare);
  CHECK(is_plain_directory(*bare));
  CHECK(f.mounter.unmount(f.mount_point, UnmountMode::plain).code() == EINVAL);

  auto spec = f.volumes.snapshot("base", "snapcell-0000000000000001");
  REQUIRE(f.mounter.mount(*spec, f.mount_point));
  auto mounted = f.mounter.facts(f.mount_point);
  REQUIRE(mounted);
  CHECK(mounted->path_device != mounted->parent_device);
  REQUIRE(mounted->mounts_at_path.size() == 1);
  CHECK(mounted->mounts_at_path.front().source == spec->source);
  CHECK(decide_ownership(f.mount_point, *mounted, spec->source));

  FakeProcess holder;
  holder.cwd_device = mounted->path_device;
  f.world.add_process(holder);
  CHECK(f.mounter.unmount(f.mount_point, UnmountMode::plain).code() == EBUSY);
  CHECK(f.mounter.remove_dir(f.mount_point).code() == EBUSY);
  CHECK(f.volumes.remove("snapcell-0000000000000001").code() == EBUSY);
  REQUIRE(f.mounter.unmount(f.mount_point, UnmountMode::detach));
  CHECK(is_plain_directory(*f.mounter.facts(f.mount_point)));
  CHECK(f.volumes.remove("snapcell-0000000000000001").code() == EBUSY);  // detached, still held
}

TEST_CASE("fake kernel: a setsid() child leaves the process group, not the cgroup or the namespace", "[fake]") {
  World world;
  FakeProcess leader;
  leader.cgroup = "/snapcell.slice/x";
  leader.pid_namespace = 77;
  FakeProcess& parent = world.add_process(leader);
  World::setsid(parent);
  FakeProcess* child = world.fork(parent, Script::sleeps);
  REQUIRE(child);
  World::setsid(*child);
  CHECK(child->pgid != parent.pgid);
  CHECK(child->cgroup == parent.cgroup);
  CHECK(child->pid_namespace == parent.pid_namespace);
}

TEST_CASE("fake kernel: an init's death kills its namespace", "[fake]") {
  World world;
  FakeProcess init;
  init.script = Script::init;
  init.pid_namespace = 5;
  FakeProcess& added = world.add_process(init);
  std::uint64_t child_serial = world.fork(added, Script::sleeps)->serial;
  world.deliver(*world.find_serial(added.serial), SIGKILL, "kernel", false);
  CHECK_FALSE(world.find_serial(child_serial)->alive);
}

TEST_CASE("fake kernel: SIGTERM is ignored by ignores-term, forks a setsid() child on forks-on-term", "[fake]") {
  World world;
  FakeProcess stubborn;
  stubborn.script = Script::ignores_term;
  FakeProcess& a = world.add_process(stubborn);
  world.deliver(a, SIGTERM, "kernel", false);
  CHECK(a.alive);
  FakeProcess racer;
  racer.script = Script::forks_on_term;
  FakeProcess& b = world.add_process(racer);
  World::setsid(b);
  std::size_t before = world.processes().size();
  world.deliver(b, SIGTERM, "kernel", false);
  CHECK_FALSE(b.alive);
  REQUIRE(world.processes().size() == before + 1);
  CHECK(world.processes().back().alive);
  CHECK(world.processes().back().sid != b.sid);
}

TEST_CASE("fake kernel: a listed PID-recycler hands its PID to an unrelated process", "[fake]") {
  World world;
  FakeProcess recycler;
  recycler.script = Script::recycles_pid;
  recycler.lineage = "snapcell-0000000000000001";
  FakeProcess& added = world.add_process(recycler);
  Pid pid = added.pid;
  world.listed({pid});
  FakeProcess* now = world.find_live(pid);
  REQUIRE(now);
  CHECK(now->lineage.empty());
  CHECK(now->serial != added.serial);
}

TEST_CASE("fake kernel: a fault fires on the Nth call, a crash kills the controller and its locks", "[fake]") {
  World world;
  ControllerId controller = world.add_controller();
  FakeJournal journal(world, controller);
  world.faults().add({Op::journal_claim, 2, FaultKind::no_space});
  REQUIRE(journal.claim("snapcell-0000000000000001", "x"));
  CHECK(journal.claim("snapcell-0000000000000002", "x").code() == ENOSPC);
  REQUIRE(journal.claim("snapcell-0000000000000002", "x"));

  ControllerId other = world.add_controller();
  FakeJournal other_journal(world, other);
  CHECK(*other_journal.try_adopt("snapcell-0000000000000001") == false);
  world.faults().add({Op::journal_update, 1, FaultKind::crash});
  CHECK_FALSE(journal.update("snapcell-0000000000000001", "y"));
  CHECK_FALSE(world.controller_alive(controller));
  CHECK(world.journal().at("snapcell-0000000000000001").content == "x");
  CHECK_FALSE(journal.claim("snapcell-0000000000000003", "x"));  // dead: no effect
  CHECK(world.journal().count("snapcell-0000000000000003") == 0);
  CHECK(*other_journal.try_adopt("snapcell-0000000000000001") == true);
}

TEST_CASE("fake kernel: a cgroup's pids.max stops forks", "[fake]") {
  World world;
  world.cgroups()["/snapcell.slice/x"] = CgroupNode{3};
  FakeProcess first;
  first.cgroup = "/snapcell.slice/x";
  FakeProcess& added = world.add_process(first);
  CHECK(world.fork(added, Script::sleeps));
  CHECK(world.fork(added, Script::sleeps));
  CHECK_FALSE(world.fork(added, Script::sleeps));
}
