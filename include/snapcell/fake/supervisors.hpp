#pragma once
// The three containment mechanisms on the fake kernel, with Linux's
// semantics: a process group is left by setsid(); a cgroup and a PID
// namespace are not. One template, two switches, four supervisors:
//   session (neither: fork + setsid + killpg, the weak baseline), cgroup,
//   pidns, and the default that combines cgroup and pidns.

#include <csignal>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "snapcell/fake/behaviours.hpp"
#include "snapcell/fake/world.hpp"
#include "snapcell/signal.hpp"

namespace snapcell::fake {

// The containment identity recorded at spawn time.
struct FakeUnit {
  std::string kind;
  std::string session;
  std::string cgroup = "-";        // unified path, "-" without one
  Pid pgid = 0;
  std::uint64_t leader_serial = 0;  // the leader's start: older processes are never members
  std::uint64_t init_serial = 0;    // the namespace's init, 0 without one
  std::uint64_t pid_namespace = 0;
  std::uint64_t command_serial = 0;
  Time spawned_at = 0;
  std::string behaviour = "-";  // what the command will run once launched
  std::string root = "-";

  std::string serialize() const {
    return fmt::format("{} {} {} {} {} {} {} {} {} {} {}", kind, session, cgroup, pgid, leader_serial, init_serial,
                       pid_namespace, command_serial, spawned_at, behaviour, root);
  }
  static Result<FakeUnit> parse(const std::string& text) {
    FakeUnit unit;
    std::istringstream in(text);
    std::string rest;
    if (!(in >> unit.kind >> unit.session >> unit.cgroup >> unit.pgid >> unit.leader_serial >> unit.init_serial >>
          unit.pid_namespace >> unit.command_serial >> unit.spawned_at >> unit.behaviour >> unit.root) ||
        (in >> rest))
      return logic_error("parse unit", text, "not a fake unit");
    return unit;
  }
  bool belongs_to(const std::string& name) const {
    return session == name && (cgroup == "-" || cgroup.ends_with("/" + name));
  }
};

template <bool UsesCgroup, bool UsesPidNamespace>
class FakeSupervisor {
 public:
  using Unit = FakeUnit;
  static constexpr Containment containment = UsesCgroup || UsesPidNamespace ? Containment::full : Containment::weak;
  static constexpr std::string_view kind = UsesCgroup && UsesPidNamespace ? "default"
                                           : UsesCgroup                  ? "cgroup"
                                           : UsesPidNamespace            ? "pidns"
                                                                         : "session";

  FakeSupervisor(World& world, ControllerId controller) : world_(world), controller_(controller) {}

  Unit unit_for(const std::string& session) const {
    Unit unit;
    unit.kind = std::string(kind);
    unit.session = session;
    if (UsesCgroup) unit.cgroup = join_path(world_.options().cgroup_parent, session);
    return unit;
  }

  Status spawn(Unit& unit, const SpawnSpec& spec) {
    if (auto error = world_.enter(controller_, Op::unit_spawn, unit.session)) return *error;
    auto behaviour = behaviour_named(spec.argv.front());
    if (!behaviour) return errno_error("execve", spec.argv.front(), ENOENT);
    world_.record(controller_, ActionKind::spawn, unit.session, world_.device_of(spec.root), unit.session);
    if (UsesCgroup) {
      if (world_.cgroups().count(unit.cgroup)) return errno_error("mkdir cgroup", unit.cgroup, EEXIST);
      world_.cgroups()[unit.cgroup] = CgroupNode{spec.limits.max_processes};
    }
    FakeProcess first;
    first.ppid = world_.controller_pid(controller_);
    first.lineage = unit.session;
    first.label = fmt::format("{} {}", unit.session, UsesPidNamespace ? "init" : spec.argv.front());
    first.root_device = first.cwd_device = world_.device_of(spec.root);
    first.cgroup = UsesCgroup ? unit.cgroup : "/";
    first.process_limit = spec.limits.max_processes;  // setrlimit(RLIMIT_NPROC) for the build's own uid
    if (UsesPidNamespace) {
      first.script = Script::init;
      first.pid_namespace = world_.new_device();  // any unique number serves as a namespace id
    } else {
      first.script = Script::held;
    }
    first.death_signal_from = controller_;  // the handshake: dies with the controller until launched
    FakeProcess& leader = world_.add_process(std::move(first));
    World::setsid(leader);
    unit.pgid = leader.pid;
    unit.leader_serial = leader.serial;
    unit.pid_namespace = leader.pid_namespace;
    unit.spawned_at = world_.now();
    std::uint64_t command_serial = leader.serial;
    if (UsesPidNamespace) {
      unit.init_serial = leader.serial;
      FakeProcess* command = world_.fork(leader, Script::held);
      if (!command) return errno_error("fork", spec.argv.front(), EAGAIN);
      command->label = fmt::format("{} {}", unit.session, spec.argv.front());
      command_serial = command->serial;
      world_.find_serial(unit.init_serial)->command_serial = command_serial;
    }
    unit.command_serial = command_serial;
    unit.behaviour = spec.argv.front();
    unit.root = spec.root;
    return {};
  }

  Status launch(Unit& unit) {
    if (auto error = world_.enter(controller_, Op::unit_launch, unit.session)) return *error;
    FakeProcess* command = world_.find_serial(unit.command_serial);
    if (!command || !command->alive) return errno_error("launch", unit.session, ESRCH);
    command->script = Script::sleeps;
    // Only a namespace's init stays tied to the controller: it is the namespace.
    if (!UsesPidNamespace) command->death_signal_from.reset();
    start_behaviour(world_, unit.command_serial, *behaviour_named(unit.behaviour), unit.root);
    return {};
  }

  Result<WaitOutcome> wait(Unit& unit, Millis deadline) {
    if (auto error = world_.enter(controller_, Op::unit_wait, unit.session)) return *error;
    const Time deadline_at = unit.spawned_at + deadline.count();
    FakeProcess* command = world_.find_serial(unit.command_serial);
    if (!command) return errno_error("waitid", unit.session, ECHILD);
    bool exits_in_time = !command->alive || command->exit_at <= deadline_at;
    world_.advance_to(exits_in_time ? (command->alive ? command->exit_at : world_.now()) : deadline_at);
    world_.deadline_enforced()[unit.session] = world_.now();
    command = world_.find_serial(unit.command_serial);
    return WaitOutcome{!exits_in_time, command->exit_code};
  }

  // TERM to every member, the grace period if any is left, then KILL by the
  // strongest means the unit has.
  Status kill_all(Unit& unit, Millis grace) {
    if (auto error = world_.enter(controller_, Op::unit_kill, unit.session)) return *error;
    FakeProcessTable table(world_, unit.session);
    auto members = scan(unit);
    world_.listed(members);
    SignalSweep term = signal_members(table, members, SIGTERM, is_member_of(unit));
    if (scan(unit).empty()) return first_failure(term);
    world_.advance_to(world_.now() + grace.count());
    if (UsesCgroup) {
      for (std::size_t i = 0; i < world_.processes().size(); ++i) {  // cgroup.kill: the kernel, atomically
        FakeProcess& p = world_.processes()[i];
        if (p.alive && World::in_cgroup(p, unit.cgroup)) world_.deliver(p, SIGKILL, unit.session, false);
      }
    } else if (UsesPidNamespace) {
      FakeProcess* init = world_.find_serial(unit.init_serial);
      if (init && init->alive) (void)signal_if_member(table, init->pid, SIGKILL, is_member_of(unit));
    } else {
      members = scan(unit);
      world_.listed(members);
      if (Status failed = first_failure(signal_members(table, members, SIGKILL, is_member_of(unit))); !failed)
        return failed;
    }
    return first_failure(term);
  }

  Result<std::vector<Pid>> survivors(Unit& unit) {
    if (auto error = world_.enter(controller_, Op::unit_survivors, unit.session)) return *error;
    return scan(unit);
  }

  Status signal_member(Unit& unit, Pid pid, int signal) {
    if (auto error = world_.enter(controller_, Op::unit_signal, unit.session)) return *error;
    FakeProcessTable table(world_, unit.session);
    return signal_if_member(table, pid, signal, is_member_of(unit));
  }

  Status release(Unit& unit) {
    if (auto error = world_.enter(controller_, Op::unit_release, unit.session)) return *error;
    if (!UsesCgroup || !world_.cgroups().count(unit.cgroup)) return {};
    world_.record(controller_, ActionKind::remove_cgroup, unit.cgroup, 0, unit.session);
    if (world_.cgroup_populated(unit.cgroup)) return errno_error("rmdir", unit.cgroup, EBUSY);
    world_.cgroups().erase(unit.cgroup);
    return {};
  }

 private:
  // What this mechanism can see: a cgroup's members, a namespace's, or a
  // process group's (which is exactly what misses a setsid() escape).
  static auto is_member_of(const Unit& unit) {
    return [unit](const ProcessFacts& facts) {
      if (UsesCgroup) return facts.cgroup == unit.cgroup || facts.cgroup.rfind(unit.cgroup + "/", 0) == 0;
      if (UsesPidNamespace) return unit.pid_namespace != 0 && facts.pid_namespace == unit.pid_namespace;
      return unit.pgid != 0 && facts.pgid == unit.pgid && facts.start_time >= unit.leader_serial;
    };
  }

  static Status first_failure(const SignalSweep& sweep) {
    return sweep.failures.empty() ? Status{} : Status{sweep.failures.front()};
  }

  std::vector<Pid> scan(const Unit& unit) const {
    std::vector<Pid> pids;
    auto member = is_member_of(unit);
    for (const auto& p : world_.processes())
      if (p.alive && member(ProcessFacts{p.pid, p.pgid, p.sid, p.cgroup, p.pid_namespace, p.serial, p.root_device}))
        pids.push_back(p.pid);
    return pids;
  }

  World& world_;
  ControllerId controller_;
};

using SessionSupervisor = FakeSupervisor<false, false>;
using CgroupSupervisor = FakeSupervisor<true, false>;
using PidNamespaceSupervisor = FakeSupervisor<false, true>;
using DefaultSupervisor = FakeSupervisor<true, true>;

static_assert(Supervisor<SessionSupervisor>);
static_assert(Supervisor<CgroupSupervisor>);
static_assert(Supervisor<PidNamespaceSupervisor>);
static_assert(Supervisor<DefaultSupervisor>);

}  // namespace snapcell::fake
