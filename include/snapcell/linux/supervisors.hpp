#pragma once
// The three containment mechanisms on Linux, as the fake kernel models them
// (fake/supervisors.hpp): one template, two switches, four supervisors.
//   session  fork + setsid, found and killed by process group: the weak
//            baseline. A process that calls setsid() or setpgid() leaves the
//            group, and no scan of the group can find it again.
//   cgroup   the build runs in a leaf cgroup from its first instruction
//            (clone3 CLONE_INTO_CGROUP); `cgroup.kill` ends it, `populated 0`
//            proves it ended.
//   pidns    the build runs under an init of its own PID namespace; SIGKILL to
//            the init makes the kernel kill everything else in it.
//   default  cgroup and PID namespace together.
// Every kind runs in its own mount, UTS, IPC and cgroup namespaces with a
// private /proc, /tmp and /dev, pivoted into the root, with a cut capability
// bounding set, no_new_privs and a seccomp filter (sandbox.hpp).
//
// Every signal goes through snapcell::signal_if_member / signal_members with
// LinuxProcessTable: pinned by a pidfd, re-read, checked against the unit's
// membership, then sent. The one exception is the cloned child itself, which
// is pinned from birth by the pidfd clone3 returns.
//
// The cloned child is reaped only in release(), not when it exits: until
// then its zombie keeps its PID, so that no newcomer can take that PID (and
// with it the process group id the session kind selects by) while the unit
// is being killed and checked. A unit read back from the journal has no such
// pin, and its session membership also requires the recorded root device.
//
// spawn() must be called from a thread that outlives the build: the death
// signal that holds a build at the handshake follows the thread that cloned
// it, not the process (prctl(2), PR_SET_PDEATHSIG).

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/linux/cgroup.hpp"
#include "snapcell/linux/cgroup_layout.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/linux/numbers.hpp"
#include "snapcell/linux/proc_scan.hpp"
#include "snapcell/linux/process_table.hpp"
#include "snapcell/linux/sandbox.hpp"
#include "snapcell/linux/sys.hpp"
#include "snapcell/names.hpp"
#include "snapcell/policies.hpp"
#include "snapcell/signal.hpp"

namespace snapcell::linux_sys {

struct SupervisorConfig {
  // The v2 hierarchy, and the dedicated parent under it that builds' leaves
  // are made in (it must exist; it is never created or removed here). The
  // mounts are this host's (supervisor_config_for), never assumed.
  std::string cgroup_mount;
  std::string cgroup_parent;
  // Hybrid hosts: v1 parents for the limits v2 cannot take. Empty: unused.
  std::string pids_v1_mount;
  std::string pids_v1_parent;
  std::string memory_v1_mount;
  std::string memory_v1_parent;
  Millis kill_bound{2'000};     // how long SIGKILL may take to empty the unit
  Millis poll_interval{5};      // how often the unit is looked at meanwhile
  Millis ready_timeout{10'000};  // how long the child may take to set up its root
  // Readable when the controller is asked to stop (interrupt.hpp's signalfd):
  // wait() then returns at once, as at the deadline. -1: none.
  int interrupt_fd = -1;
};

// A configuration with `layout`'s hierarchies; the parents in them are the
// caller's to make and give.
inline SupervisorConfig supervisor_config_for(const CgroupLayout& layout) {
  SupervisorConfig config;
  config.cgroup_mount = layout.v2_mount;
  config.pids_v1_mount = layout.pids_v1_mount;
  config.memory_v1_mount = layout.memory_v1_mount;
  return config;
}

namespace detail {

inline std::int64_t monotonic_ms() {
  return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline void append_failures(std::vector<Error>& failures, const SignalSweep& sweep) {
  failures.insert(failures.end(), sweep.failures.begin(), sweep.failures.end());
}

inline WaitOutcome outcome_of(const siginfo_t& info) {
  WaitOutcome outcome;
  outcome.exit_code = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
  return outcome;
}

}  // namespace detail

template <bool UsesCgroup, bool UsesPidNamespace>
class LinuxSupervisor {
 public:
  static constexpr Containment containment = UsesCgroup || UsesPidNamespace ? Containment::full : Containment::weak;
  static constexpr std::string_view kind = UsesCgroup && UsesPidNamespace ? "default"
                                           : UsesCgroup                  ? "cgroup"
                                           : UsesPidNamespace            ? "pidns"
                                                                         : "session";

  // The containment identity recorded at spawn time. The first twelve fields
  // are what the journal keeps; the rest exists only in the controller that
  // spawned (or, for a unit read back, re-verified) the build.
  class Unit {
   public:
    std::string kind;
    std::string session;
    std::string cgroup = "-";         // v2 path as /proc/PID/cgroup shows it; "-" without a cgroup
    std::string cgroup_dir = "-";     // the same leaf in the filesystem
    std::string pids_v1_dir = "-";    // the v1 leaves that carry limits, "-" when unused
    std::string memory_v1_dir = "-";
    Pid pid = 0;                      // the cloned child: the command, or its namespace's init
    std::uint64_t start_time = 0;     // its start, in clock ticks since boot
    Pid pgid = 0;                     // its process group (it is the leader: pgid == pid)
    std::uint64_t pid_namespace = 0;  // inode of its PID namespace
    DeviceId root_device = 0;         // st_dev of its root once pivoted
    std::int64_t spawned_at_ms = 0;   // CLOCK_MONOTONIC, for wait's deadline

    PidFd leader;                        // pidfd of `pid`
    bool leader_is_child = false;        // ours to wait for and reap
    bool leader_reaped = false;
    std::optional<WaitOutcome> exited;   // the leader's status, once it has exited
    UniqueFd namespace_fd;  // holds the PID namespace, so that its inode number is not reused
    UniqueFd channel;       // the handshake socket, until launch
    EnforcedLimits enforced;

    std::string serialize() const {
      return fmt::format("{} {} {} {} {} {} {} {} {} {} {} {}", kind, session, cgroup, cgroup_dir, pids_v1_dir,
                         memory_v1_dir, pid, start_time, pgid, pid_namespace, root_device, spawned_at_ms);
    }

    // Strict: exactly what serialize() writes for a unit this supervisor
    // kind could have made, or an error. Read back by reap, so a record that
    // is not exactly right never names something to kill or remove.
    static Result<Unit> parse(const std::string& text) {
      const auto reject = [&](std::string why) { return logic_error("parse unit", text, std::move(why)); };
      const auto fields = linux_text::split(text, ' ');
      if (fields.size() != 12) return reject(fmt::format("{} fields, expected 12", fields.size()));
      Unit unit;
      if (fields[0] != LinuxSupervisor::kind)
        return reject(fmt::format("kind is not '{}'", LinuxSupervisor::kind));
      unit.kind = std::string(fields[0]);
      if (Status valid = validate_leaf_name(fields[1]); !valid) return reject("session: " + valid.error().message());
      unit.session = std::string(fields[1]);

      std::string* const paths[] = {&unit.cgroup, &unit.cgroup_dir, &unit.pids_v1_dir, &unit.memory_v1_dir};
      for (std::size_t i = 0; i < 4; ++i) {
        const std::string_view field = fields[2 + i];
        if (field != "-") {
          if (Status valid = validate_cgroup_dir("unit path", field); !valid) return reject(valid.error().message());
          if (last_component(field) != unit.session) return reject("a cgroup leaf is not named after the session");
        }
        *paths[i] = std::string(field);
      }
      if (UsesCgroup) {
        if (unit.cgroup == "-" || unit.cgroup_dir == "-") return reject("a cgroup kind without a cgroup");
        if (!unit.cgroup_dir.ends_with(unit.cgroup) || unit.cgroup_dir.size() == unit.cgroup.size())
          return reject("cgroup is not the end of cgroup_dir");
      } else if (unit.cgroup != "-" || unit.cgroup_dir != "-" || unit.pids_v1_dir != "-" ||
                 unit.memory_v1_dir != "-") {
        return reject("cgroup paths on a kind without a cgroup");
      }

      const auto pid = linux_text::parse_decimal<int>(fields[6]);
      const auto start_time = linux_text::parse_decimal<std::uint64_t>(fields[7]);
      const auto pgid = linux_text::parse_decimal<int>(fields[8]);
      const auto pid_namespace = linux_text::parse_decimal<std::uint64_t>(fields[9]);
      const auto root_device = linux_text::parse_decimal<std::uint64_t>(fields[10]);
      const auto spawned_at = linux_text::parse_decimal<std::int64_t>(fields[11]);
      if (!pid || *pid < 0) return reject("pid is not a non-negative decimal");
      if (!start_time) return reject("start time is not a decimal");
      if (!pgid || *pgid < 0) return reject("pgid is not a non-negative decimal");
      if (!pid_namespace) return reject("pid namespace is not a decimal");
      if (!root_device) return reject("root device is not a decimal");
      if (!spawned_at || *spawned_at < 0) return reject("spawn time is not a non-negative decimal");
      if (*pid == 0 && (*start_time != 0 || *pgid != 0 || *pid_namespace != 0 || *root_device != 0))
        return reject("identity without a pid");
      if (*pid != 0 && (*pgid != *pid || *pid_namespace == 0 || *root_device == 0))
        return reject("a spawned unit must lead its group and name its namespace and root");
      unit.pid = *pid;
      unit.start_time = *start_time;
      unit.pgid = *pgid;
      unit.pid_namespace = *pid_namespace;
      unit.root_device = *root_device;
      unit.spawned_at_ms = *spawned_at;
      return unit;
    }

    bool belongs_to(const std::string& name) const {
      if (session != name || kind != LinuxSupervisor::kind || !validate_leaf_name(name)) return false;
      const auto named = [&](const std::string& path) { return path == "-" || last_component(path) == name; };
      if (UsesCgroup && (cgroup == "-" || cgroup_dir == "-")) return false;
      return named(cgroup) && named(cgroup_dir) && named(pids_v1_dir) && named(memory_v1_dir);
    }
  };

  // Throws Failure for a configuration no unit could be made from: a cgroup
  // kind needs an absolute parent below the v2 mount.
  explicit LinuxSupervisor(SupervisorConfig config = {}) : config_(std::move(config)) {
    if (!UsesCgroup) return;
    validate_cgroup_dir("cgroup mount", config_.cgroup_mount).or_throw();
    validate_cgroup_dir("cgroup parent", config_.cgroup_parent).or_throw();
    hierarchy_path(config_.cgroup_mount, config_.cgroup_parent).status().or_throw();
    if (!config_.pids_v1_parent.empty())
      hierarchy_path(config_.pids_v1_mount, config_.pids_v1_parent).status().or_throw();
    if (!config_.memory_v1_parent.empty())
      hierarchy_path(config_.memory_v1_mount, config_.memory_v1_parent).status().or_throw();
  }

  const SupervisorConfig& config() const { return config_; }

  Unit unit_for(const std::string& session) const {
    Unit unit;
    unit.kind = std::string(kind);
    unit.session = session;
    if (UsesCgroup) {
      unit.cgroup_dir = join_path(config_.cgroup_parent, session);
      unit.cgroup = hierarchy_path(config_.cgroup_mount, unit.cgroup_dir).value();
      if (!config_.pids_v1_parent.empty()) unit.pids_v1_dir = join_path(config_.pids_v1_parent, session);
      if (!config_.memory_v1_parent.empty()) unit.memory_v1_dir = join_path(config_.memory_v1_parent, session);
    }
    return unit;
  }

  static const EnforcedLimits& enforced_limits(const Unit& unit) { return unit.enforced; }

  // A unit read back from a record names its own paths. Only those this
  // configuration makes for the unit's session are ever listed, killed or
  // removed: a record that names anything else is refused, whatever it says.
  Status check_own_paths(const Unit& unit) const {
    if (unit.kind != kind) return logic_error("unit", unit.session, "unit of another supervisor kind");
    if (!UsesCgroup) return {};
    const auto refuse = [&](const std::string& path) {
      return Status{logic_error("unit path", path, "not what this configuration makes for the session")};
    };
    if (unit.cgroup_dir != join_path(config_.cgroup_parent, unit.session)) return refuse(unit.cgroup_dir);
    auto path = hierarchy_path(config_.cgroup_mount, unit.cgroup_dir);
    if (!path || *path != unit.cgroup) return refuse(unit.cgroup);
    const auto v1_ok = [&](const std::string& dir, const std::string& parent) {
      return dir == "-" || (!parent.empty() && dir == join_path(parent, unit.session));
    };
    if (!v1_ok(unit.pids_v1_dir, config_.pids_v1_parent)) return refuse(unit.pids_v1_dir);
    if (!v1_ok(unit.memory_v1_dir, config_.memory_v1_parent)) return refuse(unit.memory_v1_dir);
    return {};
  }

  // Clones the child, which sets up its root and waits at the handshake. On
  // return it is in its unit (cgroup and namespaces), armed to die with this
  // thread, and its identity is recorded; nothing of the build has run yet.
  Status spawn(Unit& unit, const SpawnSpec& spec) {
    if (unit.pid != 0 || unit.leader.valid()) return logic_error("spawn", unit.session, "unit already spawned");
    if (Status valid = validate_leaf_name(unit.session); !valid) return valid;
    if (Status own = check_own_paths(unit); !own) return own;

    ChildPlan plan;
    if (Status prepared = prepare_child(plan, spec, UsesPidNamespace, UsesCgroup ? LimitsHeldBy::cgroup : LimitsHeldBy::rlimits);
        !prepared)
      return prepared;
    auto root = stat_path(spec.root);
    if (!root) return root.status();
    if (!S_ISDIR(root->st_mode)) return errno_error("spawn", spec.root, ENOTDIR);
    auto host_root = stat_path("/");
    if (!host_root) return host_root.status();
    if (root->st_dev == host_root->st_dev && root->st_ino == host_root->st_ino)
      return logic_error("spawn", spec.root, "is the host's root");

    auto null_fd = open_high("/dev/null", O_RDONLY);
    if (!null_fd) return null_fd.status();
    auto log_fd = spec.log_fd >= 0       ? duplicate_high(spec.log_fd, "log fd")
                  : spec.log_path.empty() ? open_high("/dev/null", O_WRONLY)
                                          : open_high(spec.log_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0640);
    if (!log_fd) return log_fd.status();
    int sockets[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0)
      return errno_error("socketpair", unit.session);
    UniqueFd parent_end(sockets[0]), child_end(sockets[1]);
    plan.channel = child_end.get();
    plan.parent_channel = parent_end.get();
    plan.log_fd = log_fd->get();
    plan.null_fd = null_fd->get();

    UniqueFd cgroup_fd;
    std::vector<V1Leaf> v1_leaves;
    if (UsesCgroup) {
      auto made = make_cgroups(unit, spec.limits);
      if (!made) return made.status();
      cgroup_fd = std::move(*made);
      v1_leaves = used_v1_leaves(unit);
      for (const auto& v1 : v1_leaves) plan.cgroup_v1_tasks.push_back(v1.leaf + "/tasks");
    }

    unit.spawned_at_ms = detail::monotonic_ms();
    // Always new mount, UTS and IPC namespaces (the cgroup one the child
    // makes itself, once in its v1 leaves): whatever the supervisor, the
    // build cannot rename the host or reach its SysV IPC objects. With a
    // user namespace, it owns all of them: its root's powers end there.
    const bool user_namespace = spec.isolation.user_namespace.count > 0;
    const std::uint64_t flags = clone_newns | clone_newuts | clone_newipc | (UsesPidNamespace ? clone_newpid : 0) |
                                (spec.isolation.private_network ? clone_newnet : 0) |
                                (user_namespace ? clone_newuser : 0);
    auto cloned = clone_child(plan, flags, UsesCgroup ? cgroup_fd.get() : -1);
    if (!cloned) {
      (void)remove_cgroups(unit);
      return cloned.status();
    }
    unit.leader = PidFd{cloned->pid, UniqueFd(cloned->pidfd)};
    unit.leader_is_child = true;
    child_end.reset();

    if (user_namespace)
      if (Status shared = share_map_and_root(cloned->pid, spec, parent_end.get()); !shared)
        return abort_spawn(unit, shared.error());
    if (Status ready = await_ready(parent_end.get(), plan); !ready) return abort_spawn(unit, ready.error());
    // The child joined its v1 leaves itself (child::join_cgroups_v1):
    // proven here, from /proc, before anything of the build runs.
    if (Status member = check_v1_members(cloned->pid, v1_leaves); !member) return abort_spawn(unit, member.error());

    LinuxProcessTable table;
    auto facts = table.inspect(unit.leader);
    if (!facts) return abort_spawn(unit, facts.error());
    const std::string who = std::to_string(cloned->pid);
    if (facts->pgid != cloned->pid || facts->sid != cloned->pid)
      return abort_spawn(unit, logic_error("spawn", who, "the child does not lead its own session"));
    if (UsesCgroup && facts->cgroup != unit.cgroup)
      return abort_spawn(unit, logic_error("spawn", who, fmt::format("in cgroup '{}', not '{}'", facts->cgroup, unit.cgroup)));
    if (facts->root_device != root->st_dev)
      return abort_spawn(unit, logic_error("spawn", who, "its root is not on the root's device"));
    unit.pid = cloned->pid;
    unit.start_time = facts->start_time;
    unit.pgid = facts->pgid;
    unit.pid_namespace = facts->pid_namespace;
    unit.root_device = facts->root_device;
    if (UsesPidNamespace) {
      auto own = stat_path("/proc/self/ns/pid");
      if (own && own->st_ino == unit.pid_namespace)
        return abort_spawn(unit, logic_error("spawn", who, "not in a new PID namespace"));
      if (!pin_namespace(unit)) return abort_spawn(unit, logic_error("spawn", who, "cannot hold its PID namespace"));
    }
    unit.channel = std::move(parent_end);
    return {};
  }

  Status launch(Unit& unit) {
    if (!unit.channel) return logic_error("launch", unit.session, "not spawned here, or already launched");
    const char go = 'g';
    const ssize_t n = retry_eintr([&] { return ::send(unit.channel.get(), &go, 1, MSG_NOSIGNAL); });
    const int code = errno;
    unit.channel.reset();
    if (n != 1) return errno_error("launch", unit.session, code == EPIPE || code == ECONNRESET ? ESRCH : code);
    return {};
  }

  // Waits for the cloned child until `deadline` after the spawn. The status
  // is read with WNOWAIT: the zombie stays until release (see the top).
  Result<WaitOutcome> wait(Unit& unit, Millis deadline) {
    if (unit.exited) return *unit.exited;
    if (!unit.leader.valid() || !unit.leader_is_child) return errno_error("waitid", unit.session, ECHILD);
    const std::int64_t due = unit.spawned_at_ms + deadline.count();
    for (;;) {
      const std::int64_t left = std::max<std::int64_t>(0, due - detail::monotonic_ms());
      pollfd ready[2] = {{unit.leader.fd.get(), POLLIN, 0}, {config_.interrupt_fd, POLLIN, 0}};
      const int rc = ::poll(ready, config_.interrupt_fd >= 0 ? 2 : 1, static_cast<int>(std::min<std::int64_t>(left, INT_MAX)));
      if (rc < 0) {
        if (errno == EINTR) continue;
        return errno_error("poll", fmt::format("pidfd {}", unit.leader.pid));
      }
      if (ready[0].revents != 0) break;
      if (rc > 0) return WaitOutcome{false, -1, true};  // the controller was interrupted: the deadline is now
      if (detail::monotonic_ms() >= due) return WaitOutcome{true, 0};
    }
    return peek_exit(unit);
  }

  // TERM (and CONT, for the stopped) to every member, up to `grace` for them
  // to go, then KILL by the strongest means the unit has, until it is empty
  // or kill_bound has passed.
  Status kill_all(Unit& unit, Millis grace) {
    if (Status own = check_own_paths(unit); !own) return own;
    LinuxProcessTable table;
    std::vector<Error> failures;
    auto members = members_of(unit);
    if (!members) return members.status();
    if (!members->empty()) {
      const auto is_member = membership(unit);
      detail::append_failures(failures, signal_members(table, *members, SIGTERM, is_member));
      detail::append_failures(failures, signal_members(table, *members, SIGCONT, is_member));
      const std::int64_t until = detail::monotonic_ms() + grace.count();
      while (detail::monotonic_ms() < until) {
        auto empty = is_empty(unit);
        if (!empty) return empty.status();
        if (*empty) break;
        std::this_thread::sleep_for(config_.poll_interval);
      }
    }
    const std::int64_t until = detail::monotonic_ms() + config_.kill_bound.count();
    bool kill_failed = false;
    for (;;) {
      auto empty = is_empty(unit);
      if (!empty) {
        failures.push_back(empty.error());
        break;
      }
      if (*empty) break;
      if (detail::monotonic_ms() >= until) {
        failures.push_back(logic_error("kill", unit.session,
                                       fmt::format("members left {} ms after SIGKILL", config_.kill_bound.count())));
        break;
      }
      if (Status killed = kill_hard(unit, table); !killed && !kill_failed) {
        kill_failed = true;
        failures.push_back(killed.error());
      }
      std::this_thread::sleep_for(config_.poll_interval);
    }
    return failures.empty() ? Status{} : Status{failures.front()};
  }

  // The members as the mechanism sees them: the cgroup's, the namespace's,
  // or the process group's (which by design misses setsid escapes).
  Result<std::vector<Pid>> survivors(Unit& unit) {
    if (Status own = check_own_paths(unit); !own) return own.error();
    return members_of(unit);
  }

  Status signal_member(Unit& unit, Pid pid, int signal) {
    if (Status own = check_own_paths(unit); !own) return own;
    LinuxProcessTable table;
    return signal_if_member(table, pid, signal, membership(unit));
  }

  // Removes the leaves (EBUSY while populated), reaps the cloned child and
  // lets go of every handle. Idempotent.
  Status release(Unit& unit) {
    if (Status own = check_own_paths(unit); !own) return own;
    Status first = remove_cgroups(unit);
    if (unit.leader_is_child && unit.leader.valid() && !unit.leader_reaped) {
      if (Status reaped = reap_leader(unit); !reaped) return first ? reaped : first;
      if (!unit.leader_reaped) {
        Status busy = errno_error("release", fmt::format("pid {}", unit.pid), EBUSY);
        return first ? busy : first;
      }
    }
    unit.leader.fd.reset();
    unit.namespace_fd.reset();
    unit.channel.reset();
    return first;
  }

 private:
  // What a process must show to be one of the unit's. Copies what it needs:
  // the unit itself is move-only.
  struct Membership {
    std::string cgroup;                 // empty: no cgroup
    std::uint64_t pid_namespace = 0;    // 0: no namespace held, so none is trusted
    Pid pgid = 0;
    std::uint64_t start_time = 0;
    DeviceId root_device = 0;
    bool group_pinned = false;

    bool operator()(const ProcessFacts& facts) const {
      if (UsesCgroup && !cgroup.empty() &&
          (facts.cgroup == cgroup || (facts.cgroup.size() > cgroup.size() && facts.cgroup.starts_with(cgroup) &&
                                      facts.cgroup[cgroup.size()] == '/')))
        return true;
      if (UsesPidNamespace && pid_namespace != 0 && facts.pid_namespace == pid_namespace) return true;
      if (!UsesCgroup && !UsesPidNamespace)
        return pgid != 0 && facts.pgid == pgid && facts.start_time >= start_time &&
               (group_pinned || facts.root_device == root_device);
      return false;
    }
  };

  Membership membership(Unit& unit) {
    Membership m;
    if (UsesCgroup && unit.cgroup != "-") m.cgroup = unit.cgroup;
    if (UsesPidNamespace && pin_namespace(unit)) m.pid_namespace = unit.pid_namespace;
    m.pgid = unit.pgid;
    m.start_time = unit.start_time;
    m.root_device = unit.root_device;
    m.group_pinned = group_pinned(unit);
    return m;
  }

  // Our own unreaped child keeps its PID, hence the group's id, from reuse.
  static bool group_pinned(const Unit& unit) {
    return unit.leader_is_child && unit.leader.valid() && !unit.leader_reaped;
  }

  static Result<UniqueFd> open_high(const std::string& path, int flags, mode_t mode = 0) {
    auto fd = open_fd(path, flags, mode);
    if (!fd) return fd;
    return duplicate_high(fd->get(), path);
  }

  // Above stdio, so that the child's dup2 onto 0, 1 and 2 never closes one
  // of them before it is copied (a controller started with stdio closed).
  static Result<UniqueFd> duplicate_high(int fd, const std::string& shown) {
    const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (high < 0) return errno_error("fcntl(F_DUPFD_CLOEXEC)", shown);
    return UniqueFd(high);
  }

  Result<UniqueFd> make_cgroups(Unit& unit, const Limits& limits) {
    auto leaf = create_leaf(config_.cgroup_mount, config_.cgroup_parent, unit.session, cgroup2_magic);
    if (!leaf) return leaf.error();
    const auto undo = [&](Error error) -> Result<UniqueFd> {
      (void)remove_cgroups(unit);
      return error;
    };
    if (auto kill_file = stat_path(unit.cgroup_dir + "/cgroup.kill"); !kill_file)
      return undo(logic_error("spawn", unit.cgroup_dir, "no cgroup.kill (Linux 5.14+ needed)"));
    CgroupLeaves leaves{unit.cgroup_dir, "", ""};
    if (unit.pids_v1_dir != "-") {
      auto made = create_leaf(config_.pids_v1_mount, config_.pids_v1_parent, unit.session, cgroup1_magic);
      if (!made) return undo(made.error());
      leaves.pids_v1 = unit.pids_v1_dir;
    }
    if (unit.memory_v1_dir != "-") {
      auto made = create_leaf(config_.memory_v1_mount, config_.memory_v1_parent, unit.session, cgroup1_magic);
      if (!made) return undo(made.error());
      leaves.memory_v1 = unit.memory_v1_dir;
    }
    auto enforced = apply_limits(leaves, limits);
    if (!enforced) return undo(enforced.error());
    unit.enforced = std::move(*enforced);
    auto fd = open_fd(unit.cgroup_dir, O_RDONLY | O_DIRECTORY);
    if (!fd) return undo(fd.error());
    return fd;
  }

  Status remove_cgroups(const Unit& unit) {
    if (!UsesCgroup) return {};
    Status first;
    for (const std::string* dir : {&unit.cgroup_dir, &unit.pids_v1_dir, &unit.memory_v1_dir}) {
      if (*dir == "-") continue;
      if (Status removed = remove_leaf(*dir); !removed && first) first = removed;
    }
    return first;
  }

  // What a child in a new user namespace waits for (child::receive_root):
  // its map onto the leased range, then its root cloned and shifted through
  // that same namespace, so that root inside owns what the host's root owns
  // on disk (unless the root shows the range's ids already). The child is
  // ours and unreaped: its /proc entry is its own.
  static Status share_map_and_root(Pid child, const SpawnSpec& spec, int channel) {
    if (Status mapped = write_id_maps(child, spec.isolation.user_namespace); !mapped) return mapped;
    idmap_detail::FdMessage message;
    UniqueFd tree;
    if (!spec.isolation.root_shifted) {
      auto user_namespace = open_fd(fmt::format("/proc/{}/ns/user", child), O_RDONLY);
      if (!user_namespace) return user_namespace.status();
      auto made = idmapped_tree(spec.root, user_namespace->get(), false);
      if (!made) return made.status();
      tree = std::move(*made);
      message.attach(tree.get());
    } else {
      message.header.msg_control = nullptr;
      message.header.msg_controllen = 0;
    }
    if (retry_eintr([&] { return ::sendmsg(channel, &message.header, MSG_NOSIGNAL); }) < 0)
      return errno_error("sendmsg(idmapped root)", spec.root);
    return {};
  }

  // The child's report: ready, or the step that failed. EOF: it died first.
  Status await_ready(int channel, const ChildPlan& plan) {
    pollfd ready{channel, POLLIN, 0};
    int rc = retry_eintr([&] { return ::poll(&ready, 1, static_cast<int>(config_.ready_timeout.count())); });
    if (rc < 0) return errno_error("poll", "spawn handshake");
    if (rc == 0) return errno_error("spawn handshake", plan.root, ETIMEDOUT);
    ChildReport report;
    const ssize_t n = retry_eintr([&] { return ::recv(channel, &report, sizeof report, MSG_WAITALL); });
    if (n < 0) return errno_error("recv", "spawn handshake");
    if (n != static_cast<ssize_t>(sizeof report))
      return logic_error("spawn handshake", plan.root, "the child exited before it was ready");
    if (report.step != static_cast<std::int32_t>(ChildStep::ready)) return describe_child_failure(plan, report);
    return {};
  }

  // Ends a half-made spawn: the child has not run any of the build, so
  // SIGKILL through its own pidfd and a blocking reap are all it needs.
  // The v1 leaves a unit uses (hybrid hosts), with their hierarchies' mounts.
  std::vector<V1Leaf> used_v1_leaves(const Unit& unit) const {
    std::vector<V1Leaf> leaves;
    if (unit.pids_v1_dir != "-") leaves.push_back({config_.pids_v1_mount, unit.pids_v1_dir});
    if (unit.memory_v1_dir != "-") leaves.push_back({config_.memory_v1_mount, unit.memory_v1_dir});
    return leaves;
  }

  Status abort_spawn(Unit& unit, Error error) {
    (void)pidfd_send_signal(unit.leader, SIGKILL);
    siginfo_t info{};
    (void)retry_eintr([&] { return ::waitid(P_PIDFD, static_cast<id_t>(unit.leader.fd.get()), &info, WEXITED); });
    unit.leader.fd.reset();
    unit.leader = PidFd{};
    unit.leader_is_child = false;
    unit.namespace_fd.reset();
    unit.pid = 0;
    unit.start_time = 0;
    unit.pgid = 0;
    unit.pid_namespace = 0;
    unit.root_device = 0;
    (void)remove_cgroups(unit);
    return error;
  }

  Result<WaitOutcome> peek_exit(Unit& unit) {
    siginfo_t info{};
    const int rc = retry_eintr(
        [&] { return ::waitid(P_PIDFD, static_cast<id_t>(unit.leader.fd.get()), &info, WEXITED | WNOWAIT); });
    if (rc != 0) return errno_error("waitid", fmt::format("pidfd {}", unit.leader.pid));
    unit.exited = detail::outcome_of(info);
    return *unit.exited;
  }

  Status reap_leader(Unit& unit) {
    siginfo_t info{};
    const int rc = retry_eintr(
        [&] { return ::waitid(P_PIDFD, static_cast<id_t>(unit.leader.fd.get()), &info, WEXITED | WNOHANG); });
    if (rc != 0) {
      if (errno != ECHILD) return errno_error("waitid", fmt::format("pidfd {}", unit.leader.pid));
      unit.leader_reaped = true;  // reaped elsewhere (a waitpid(-1) of the caller's)
      return {};
    }
    if (info.si_pid == 0) return {};  // still running
    if (!unit.exited) unit.exited = detail::outcome_of(info);
    unit.leader_reaped = true;
    return {};
  }

  // Holds the unit's PID namespace through an fd, after proving that it is
  // the namespace of the unit's init (same pid, start time and inode, with
  // the init still alive after the namespace was opened). False when the init
  // is gone: the kernel ended the namespace with it, and an inode number of
  // a dead namespace may already name another one.
  bool pin_namespace(Unit& unit) {
    if (!UsesPidNamespace || unit.pid_namespace == 0 || unit.pid <= 0) return false;
    if (unit.namespace_fd) return true;
    if (!unit.leader.valid()) {
      LinuxProcessTable table;
      auto handle = table.open(unit.pid);
      if (!handle) return false;
      auto facts = table.inspect(*handle);
      if (!facts || facts->start_time != unit.start_time || facts->pid_namespace != unit.pid_namespace) return false;
      unit.leader = std::move(*handle);
      unit.leader_is_child = false;
    }
    auto fd = open_fd(fmt::format("/proc/{}/ns/pid", unit.pid), O_RDONLY);
    if (!fd) return false;
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0 || st.st_ino != unit.pid_namespace) return false;
    if (!pidfd_alive(unit.leader)) return false;
    unit.namespace_fd = std::move(*fd);
    return true;
  }

  // The init has exited once its pidfd polls readable; by then the kernel
  // has killed and waited for every other process of its namespace.
  bool init_exited(const Unit& unit) const {
    if (!unit.leader.valid()) return true;
    pollfd ready{unit.leader.fd.get(), POLLIN, 0};
    return ::poll(&ready, 1, 0) > 0;
  }

  Result<std::vector<Pid>> members_of(Unit& unit) {
    std::vector<Pid> members;
    if (UsesCgroup && unit.cgroup_dir != "-") {
      auto listed = cgroup_members(unit.cgroup_dir);
      if (!listed) return listed.error();
      members = std::move(*listed);
    }
    if (UsesPidNamespace && pin_namespace(unit) && !init_exited(unit)) {
      const std::uint64_t ns = unit.pid_namespace;
      auto listed = scan_processes(fact_pid_namespace, [ns](const ProcessFacts& f) { return f.pid_namespace == ns; });
      if (!listed) return listed.error();
      members.insert(members.end(), listed->begin(), listed->end());
    }
    if (!UsesCgroup && !UsesPidNamespace && unit.pgid > 0) {
      const auto is_member = membership(unit);
      auto listed = scan_processes(is_member.group_pinned ? fact_stat : fact_root, is_member);
      if (!listed) return listed.error();
      members = std::move(*listed);
    }
    std::sort(members.begin(), members.end());
    members.erase(std::unique(members.begin(), members.end()), members.end());
    return members;
  }

  Result<bool> is_empty(Unit& unit) {
    if (UsesCgroup && unit.cgroup_dir != "-") {
      auto populated = cgroup_populated(unit.cgroup_dir);
      if (!populated) return populated.error();
      if (*populated) return false;
    }
    if (UsesPidNamespace && pin_namespace(unit) && !init_exited(unit)) return false;
    if (!UsesCgroup && !UsesPidNamespace) {
      auto members = members_of(unit);
      if (!members) return members.error();
      return members->empty();
    }
    return true;
  }

  Status kill_hard(Unit& unit, LinuxProcessTable& table) {
    Status first;
    if (UsesCgroup && unit.cgroup_dir != "-") first = cgroup_kill(unit.cgroup_dir);
    if (UsesPidNamespace && pin_namespace(unit) && !init_exited(unit)) {
      // The init's pidfd was verified when the namespace was pinned.
      if (Status killed = table.send(unit.leader, SIGKILL); !killed && killed.code() != ESRCH && first) first = killed;
    }
    if (!UsesCgroup && !UsesPidNamespace) {
      auto members = members_of(unit);
      if (!members) return members.status();
      SignalSweep sweep = signal_members(table, *members, SIGKILL, membership(unit));
      if (!sweep.failures.empty() && first) first = sweep.failures.front();
    }
    return first;
  }

  SupervisorConfig config_;
};

using SessionSupervisor = LinuxSupervisor<false, false>;
using CgroupSupervisor = LinuxSupervisor<true, false>;
using PidNamespaceSupervisor = LinuxSupervisor<false, true>;
using DefaultSupervisor = LinuxSupervisor<true, true>;

static_assert(Supervisor<SessionSupervisor>);
static_assert(Supervisor<CgroupSupervisor>);
static_assert(Supervisor<PidNamespaceSupervisor>);
static_assert(Supervisor<DefaultSupervisor>);

}  // namespace snapcell::linux_sys
