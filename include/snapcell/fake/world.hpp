#pragma once
// A simulated kernel for the fake policies. Fault model: any operation can
// fail on its Nth call (no space, busy, I/O error, permission denied), or the
// calling controller can die there; a dead controller's calls have no effect,
// its journal locks drop and its death signals fire, as with a killed process.
// Builds are scripted behaviours (behaviours.hpp). The world also keeps the
// ground truth the invariant checks read: every signal with its sender and
// target lineage, every destructive action with the device it hit, and who
// held each session's journal lock at the time.

#include <algorithm>
#include <cstdint>
#include <csignal>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/fake/fault_plan.hpp"
#include "snapcell/names.hpp"
#include "snapcell/policies.hpp"
#include "snapcell/signal.hpp"

namespace snapcell::fake {

using ControllerId = int;
using Time = std::int64_t;  // simulated milliseconds
inline constexpr Time never = INT64_MAX;
inline constexpr DeviceId root_device = 1;
inline constexpr DeviceId run_device = 2;  // /run is a tmpfs, as on Debian

struct WorldOptions {
  std::string run_dir = "/run/snapcell";
  std::string cgroup_parent = "/snapcell.slice";
  std::string origin = "base";
  std::uint64_t capacity = 10;  // snapshots that fit in the volume group
  std::uint64_t seed = 0;
  Pid max_pid = 32768;
};

struct FakeVolume {
  std::string name;
  std::string origin;  // empty for an origin
  DeviceId device = 0;
  std::map<std::string, std::string> files;
  bool cut_short_empty = false;  // made by a snapshot its controller died in: empty, origin unknown
};

struct FakeMount {
  int id = 0;
  std::string target;
  std::string source;
  std::string fs_type;
  DeviceId device = 0;
  std::string owner;  // the session that made it (its controller, or its build); empty: the host's
};

enum class Script {
  host,             // a protected process outside any build
  well_behaved,     // exits 0 soon
  sleeps,           // sleeps past the deadline, dies on TERM
  ignores_term,     // needs SIGKILL
  forks_on_term,    // a TERM makes it fork a child that calls setsid(), then die
  writes_files,     // writes into its root, then exits
  recycles_pid,     // dies as soon as a supervisor lists it; an unrelated process takes its PID
  init,             // a PID namespace's init: lives while its command does
  held,             // spawned, waiting at the launch handshake
};

struct FakeProcess {
  Pid pid = 0;
  std::uint64_t serial = 0;  // unique per incarnation: the fake start time
  Pid ppid = 0;
  Pid pgid = 0;
  Pid sid = 0;
  std::string cgroup = "/";
  std::uint64_t pid_namespace = 0;
  DeviceId root_device = snapcell::fake::root_device;
  DeviceId cwd_device = snapcell::fake::root_device;
  std::vector<DeviceId> fd_devices;
  std::string lineage;  // the session whose build it descends from; empty: protected
  std::string label;
  Script script = Script::host;
  Time started = 0;
  Time exit_at = never;
  Time died = never;
  int exit_code = 0;
  std::optional<ControllerId> death_signal_from;  // PR_SET_PDEATHSIG on this controller
  std::uint64_t command_serial = 0;               // an init's command: the init ends with it
  int process_limit = 0;                          // RLIMIT_NPROC of the build's uid, 0: none
  bool alive = true;
};

struct SignalEvent {
  std::string sender;   // session of the unit that sent it, "kernel" or "controller N"
  Pid pid = 0;
  std::uint64_t serial = 0;
  std::string target_lineage;
  std::string target_label;
  int signal = 0;
  bool by_bare_pid = false;
  Time time = 0;
};

enum class ActionKind { unmount, kill_by_mount, rmdir, remove_volume, remove_cgroup, snapshot, mount, mkdir, spawn };

inline std::string_view to_string(ActionKind kind) {
  switch (kind) {
    case ActionKind::unmount: return "unmount";
    case ActionKind::kill_by_mount: return "kill-by-mount";
    case ActionKind::rmdir: return "rmdir";
    case ActionKind::remove_volume: return "remove volume";
    case ActionKind::remove_cgroup: return "remove cgroup";
    case ActionKind::snapshot: return "snapshot";
    case ActionKind::mount: return "mount";
    case ActionKind::mkdir: return "mkdir";
    case ActionKind::spawn: return "spawn";
  }
  return "?";
}

inline bool is_destructive(ActionKind kind) {
  return kind == ActionKind::unmount || kind == ActionKind::kill_by_mount || kind == ActionKind::rmdir ||
         kind == ActionKind::remove_volume || kind == ActionKind::remove_cgroup;
}

// One effect a controller applied (or tried to) to a resource.
struct Action {
  ControllerId actor = 0;
  ActionKind kind{};
  std::string target;
  DeviceId device = 0;            // the device the target lives on, or that was scanned
  std::string session;            // the session name the target carries, if any
  bool actor_held_lock = false;   // did the actor hold that session's journal record?
  bool target_is_sessions = true; // ground truth: is the mount or device really that session's?
  std::vector<std::string> would_hit;  // kill-by-mount: labels of the processes it matched
  Time time = 0;
};

struct JournalEntry {
  std::string content;
  std::optional<ControllerId> holder;
};

struct Controller {
  Pid pid = 0;
  bool alive = true;
};

struct CgroupNode {
  int pids_max = 0;  // 0: no limit
};

class World {
 public:
  explicit World(WorldOptions options = {}) : options_(std::move(options)), random_(options_.seed) {
    dirs_ = {{"/", root_device}, {"/run", root_device}, {options_.run_dir, run_device}, {"/home", root_device}};
    mounts_.push_back({next_mount_id_++, "/", "/dev/vda", "ext4", root_device, ""});
    mounts_.push_back({next_mount_id_++, "/run", "tmpfs", "tmpfs", run_device, ""});
    FakeVolume base{options_.origin, "", next_device_++, {{"/etc/os-release", "debian 12"}, {"/bin/sh", "busybox"}}};
    base_files_ = base.files;
    volumes_[base.name] = std::move(base);
    cgroups_["/"] = {};
    cgroups_[options_.cgroup_parent] = {};
    // The protected set: what a collateral kill would hit first.
    add_host_process(1, "init", {});
    add_host_process(0, "sshd", {});
    add_host_process(0, "operator shell in /home", {root_device});
    add_host_process(0, "operator shell in the run dir", {run_device});
  }

  const WorldOptions& options() const { return options_; }
  FaultPlan& faults() { return faults_; }
  Time now() const { return now_; }
  std::mt19937_64& random() { return random_; }

  // ---- controllers -------------------------------------------------------
  ControllerId add_controller() {
    Pid pid = add_host_process(0, fmt::format("snapcell controller {}", controllers_.size()), {});
    controllers_.push_back({pid, true});
    return static_cast<ControllerId>(controllers_.size() - 1);
  }
  bool controller_alive(ControllerId id) const { return controllers_.at(id).alive; }
  Pid controller_pid(ControllerId id) const { return controllers_.at(id).pid; }

  // A controller process ends, by a crash or by finishing its work: to the
  // kernel both are an exit. Its flock()s drop, its death signals fire.
  void exit_controller(ControllerId id) { crash(id); }

  void crash(ControllerId id) {
    auto& controller = controllers_.at(id);
    if (!controller.alive) return;
    controller.alive = false;
    die(*find_live(controller.pid), "controller crashed");
    for (auto& [name, entry] : journal_)
      if (entry.holder == id) entry.holder.reset();
    for (std::size_t i = 0; i < processes_.size(); ++i)
      if (processes_[i].alive && processes_[i].death_signal_from == id) deliver(processes_[i], SIGKILL, "kernel", false);
  }

  // Every fake operation starts here: a dead controller does nothing, and the
  // fault plan may fail this call or kill the controller at it.
  std::optional<Error> enter(ControllerId id, Op op, const std::string& target) {
    if (!controllers_.at(id).alive) return logic_error(std::string(to_string(op)), target, "controller is dead");
    auto fault = faults_.next(op);
    if (!fault) return std::nullopt;
    if (*fault == FaultKind::crash) {
      crash(id);
      return logic_error(std::string(to_string(op)), target, "controller crashed here");
    }
    return errno_error(std::string(to_string(op)), target, errno_of(*fault));
  }

  // ---- journal -----------------------------------------------------------
  std::map<std::string, JournalEntry>& journal() { return journal_; }
  const std::map<std::string, JournalEntry>& journal() const { return journal_; }
  bool holds(ControllerId id, const std::string& session) const {
    auto it = journal_.find(session);
    return it != journal_.end() && it->second.holder == id;
  }

  // ---- filesystem and mounts ---------------------------------------------
  bool dir_exists(const std::string& path) const { return dirs_.count(path) != 0; }
  const std::map<std::string, DeviceId>& dirs() const { return dirs_; }
  std::map<std::string, DeviceId>& dirs() { return dirs_; }
  std::vector<FakeMount>& mounts() { return mounts_; }
  const std::vector<FakeMount>& mounts() const { return mounts_; }

  // st_dev of a path: the device of the topmost mount at it, else of the
  // filesystem its directory entry lives on.
  DeviceId device_of(const std::string& path) const {
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it)
      if (it->target == path) return it->device;
    auto dir = dirs_.find(path);
    return dir == dirs_.end() ? 0 : dir->second;
  }

  bool device_busy(DeviceId device) const {
    return std::any_of(processes_.begin(), processes_.end(), [&](const FakeProcess& p) { return holds_device(p, device); });
  }
  static bool holds_device(const FakeProcess& p, DeviceId device) {
    return p.alive && (p.root_device == device || p.cwd_device == device ||
                       std::find(p.fd_devices.begin(), p.fd_devices.end(), device) != p.fd_devices.end());
  }

  int add_mount(std::string target, std::string source, std::string fs_type, DeviceId device, std::string owner) {
    mounts_.push_back({next_mount_id_, std::move(target), std::move(source), std::move(fs_type), device, std::move(owner)});
    return next_mount_id_++;
  }

  const FakeMount* top_mount_at(const std::string& path) const {
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it)
      if (it->target == path) return &*it;
    return nullptr;
  }

  // Does the device belong to the session: its volume, or a mount its build made?
  bool device_is_sessions(DeviceId device, const std::string& session) const {
    auto volume = volumes_.find(session);
    if (volume != volumes_.end() && volume->second.device == device) return true;
    return std::any_of(mounts_.begin(), mounts_.end(),
                       [&](const FakeMount& m) { return m.device == device && !session.empty() && m.owner == session; });
  }

  // ---- volumes -------------------------------------------------------------
  std::map<std::string, FakeVolume>& volumes() { return volumes_; }
  const std::map<std::string, FakeVolume>& volumes() const { return volumes_; }
  const std::map<std::string, std::string>& base_files_at_start() const { return base_files_; }
  std::uint64_t snapshots_in_use() const {
    return std::count_if(volumes_.begin(), volumes_.end(), [](const auto& v) { return !v.second.origin.empty(); });
  }
  DeviceId new_device() { return next_device_++; }
  const FakeVolume* volume_on(DeviceId device) const {
    for (const auto& [name, volume] : volumes_)
      if (volume.device == device) return &volume;
    return nullptr;
  }

  // ---- cgroups -------------------------------------------------------------
  std::map<std::string, CgroupNode>& cgroups() { return cgroups_; }
  const std::map<std::string, CgroupNode>& cgroups() const { return cgroups_; }
  bool cgroup_populated(const std::string& path) const {
    return std::any_of(processes_.begin(), processes_.end(),
                       [&](const FakeProcess& p) { return p.alive && in_cgroup(p, path); });
  }
  static bool in_cgroup(const FakeProcess& p, const std::string& path) {
    return p.cgroup == path || p.cgroup.rfind(path + "/", 0) == 0;
  }
  int cgroup_count(const std::string& path) const {
    return static_cast<int>(std::count_if(processes_.begin(), processes_.end(),
                                          [&](const FakeProcess& p) { return p.alive && in_cgroup(p, path); }));
  }

  // ---- processes -----------------------------------------------------------
  std::deque<FakeProcess>& processes() { return processes_; }
  const std::deque<FakeProcess>& processes() const { return processes_; }

  FakeProcess* find_live(Pid pid) {
    for (auto& p : processes_)
      if (p.alive && p.pid == pid) return &p;
    return nullptr;
  }
  FakeProcess* find_serial(std::uint64_t serial) {
    for (auto& p : processes_)
      if (p.serial == serial) return &p;
    return nullptr;
  }

  // fork(): the child inherits everything but its PID; pids.max applies.
  FakeProcess* fork(FakeProcess& parent, Script script) {
    if (!cgroup_allows_one_more(parent.cgroup)) return nullptr;
    if (parent.process_limit > 0 && live_in_lineage(parent.lineage) >= parent.process_limit) return nullptr;
    FakeProcess child = parent;
    child.pid = allocate_pid();
    child.serial = next_serial_++;
    child.ppid = parent.pid;
    child.script = script;
    child.started = now_;
    child.exit_at = never;
    child.death_signal_from.reset();
    child.label = fmt::format("{} child of {}", child.lineage.empty() ? "host" : child.lineage, parent.pid);
    processes_.push_back(std::move(child));
    note_peak(processes_.back().lineage);
    return &processes_.back();
  }

  int live_in_lineage(const std::string& lineage) const {
    return static_cast<int>(std::count_if(processes_.begin(), processes_.end(),
                                          [&](const FakeProcess& p) { return p.alive && p.lineage == lineage; }));
  }
  // The most processes a build had alive at once: what I7's cap bounds.
  const std::map<std::string, int>& peak_processes() const { return peak_processes_; }

  static void setsid(FakeProcess& process) { process.sid = process.pgid = process.pid; }

  FakeProcess& add_process(FakeProcess process) {
    process.pid = process.pid ? process.pid : allocate_pid();
    process.serial = next_serial_++;
    process.started = now_;
    processes_.push_back(std::move(process));
    note_peak(processes_.back().lineage);
    return processes_.back();
  }

  bool cgroup_allows_one_more(const std::string& cgroup) const {
    for (std::string path = cgroup; !path.empty() && path != "/"; path = parent_of(path)) {
      auto node = cgroups_.find(path);
      if (node != cgroups_.end() && node->second.pids_max > 0 && cgroup_count(path) >= node->second.pids_max)
        return false;
    }
    return true;
  }

  // The one place a signal takes effect; every delivery is recorded.
  void deliver(FakeProcess& target, int signal, const std::string& sender, bool by_bare_pid) {
    signals_.push_back({sender, target.pid, target.serial, target.lineage, target.label, signal, by_bare_pid, now_});
    if (!target.alive || signal == 0) return;
    if (signal == SIGTERM) {
      // A namespace's init gets only the signals it handles: ours passes TERM
      // on to its children (each is sent its own here) and stays for the KILL.
      if (target.script == Script::ignores_term || target.script == Script::host || target.script == Script::init)
        return;
      if (target.script == Script::forks_on_term) {
        target.script = Script::sleeps;  // once is enough to race the sweep
        if (FakeProcess* child = fork(target, Script::sleeps)) setsid(*child);
      }
    }
    die(target, fmt::format("signal {}", signal));
  }

  void die(FakeProcess& process, const std::string& why) {
    if (!process.alive) return;
    process.alive = false;
    process.died = now_;
    process.label += " (" + why + ")";
    // The kernel kills a PID namespace with its init; our init ends with its command.
    if (process.script == Script::init && process.pid_namespace != 0) {
      for (std::size_t i = 0; i < processes_.size(); ++i)
        if (processes_[i].alive && processes_[i].pid_namespace == process.pid_namespace)
          deliver(processes_[i], SIGKILL, "kernel", false);
    }
    for (std::size_t i = 0; i < processes_.size(); ++i)
      if (processes_[i].alive && processes_[i].script == Script::init && processes_[i].command_serial == process.serial)
        die(processes_[i], "its command ended");
  }

  // Time passes: scripted exits happen, an init ends when its command has.
  void advance_to(Time when) {
    while (true) {
      FakeProcess* next = nullptr;
      for (auto& p : processes_)
        if (p.alive && p.exit_at <= when && (!next || p.exit_at < next->exit_at)) next = &p;
      if (!next) break;
      now_ = std::max(now_, next->exit_at);
      die(*next, "exited");
    }
    now_ = std::max(now_, when);
  }

  // A supervisor listed these PIDs: a recycling script dies right now and an
  // unrelated host process takes its number, the race pidfds exist for.
  void listed(const std::vector<Pid>& pids) {
    for (Pid pid : pids) {
      FakeProcess* p = find_live(pid);
      if (!p || p->script != Script::recycles_pid) continue;
      die(*p, "exited before the signal");
      add_host_process(pid, fmt::format("unrelated process that recycled pid {}", pid), {});
    }
  }

  const std::vector<SignalEvent>& signals() const { return signals_; }
  std::vector<SignalEvent>& signals() { return signals_; }

  // ---- actions -------------------------------------------------------------
  void record(ControllerId actor, ActionKind kind, std::string target, DeviceId device, std::string session,
              std::vector<std::string> would_hit = {}, bool target_is_sessions = true) {
    bool held = !session.empty() && holds(actor, session);
    actions_.push_back({actor, kind, std::move(target), device, std::move(session), held, target_is_sessions,
                        std::move(would_hit), now_});
  }
  const std::vector<Action>& actions() const { return actions_; }

  // The session a resource's name carries, by the naming convention.
  std::string session_of_path(const std::string& path, const std::string& dir) const {
    if (path.rfind(dir + "/", 0) != 0) return {};
    auto rest = path.substr(dir.size() + 1);
    return rest.substr(0, rest.find('/'));
  }

  // Wait bookkeeping for I7: when a supervisor's wait for a session returned.
  std::map<std::string, Time>& deadline_enforced() { return deadline_enforced_; }
  const std::map<std::string, Time>& deadline_enforced() const { return deadline_enforced_; }

 private:
  void note_peak(const std::string& lineage) {
    if (lineage.empty()) return;
    int& peak = peak_processes_[lineage];
    peak = std::max(peak, live_in_lineage(lineage));
  }

  Pid allocate_pid() {
    for (Pid tries = 0; tries < options_.max_pid; ++tries) {
      Pid pid = next_pid_;
      next_pid_ = next_pid_ >= options_.max_pid ? 300 : next_pid_ + 1;
      if (!find_live(pid)) return pid;
    }
    return 0;
  }

  Pid add_host_process(Pid pid, std::string label, std::vector<DeviceId> holds) {
    FakeProcess p;
    p.pid = pid;
    p.label = std::move(label);
    if (!holds.empty()) {
      p.cwd_device = holds.front();
      p.fd_devices = holds;
    }
    FakeProcess& added = add_process(std::move(p));
    added.pgid = added.sid = added.pid;
    added.ppid = added.pid == 1 ? 0 : 1;
    return added.pid;
  }

  WorldOptions options_;
  std::mt19937_64 random_;
  FaultPlan faults_;
  Time now_ = 0;
  std::map<std::string, DeviceId> dirs_;
  std::vector<FakeMount> mounts_;
  std::map<std::string, FakeVolume> volumes_;
  std::map<std::string, std::string> base_files_;
  std::map<std::string, CgroupNode> cgroups_;
  std::deque<FakeProcess> processes_;  // a deque: forks during a delivery keep references valid
  std::vector<Controller> controllers_;
  std::map<std::string, JournalEntry> journal_;
  std::vector<SignalEvent> signals_;
  std::vector<Action> actions_;
  std::map<std::string, Time> deadline_enforced_;
  std::map<std::string, int> peak_processes_;
  int next_mount_id_ = 20;
  DeviceId next_device_ = 10;
  Pid next_pid_ = 300;
  std::uint64_t next_serial_ = 1;
};

// The fake kernel's process table, as one controller sees it: what
// signal_if_member() needs.
class FakeProcessTable {
 public:
  struct Handle {
    std::uint64_t serial = 0;
  };

  FakeProcessTable(World& world, std::string sender) : world_(world), sender_(std::move(sender)) {}

  Result<Handle> open(Pid pid) {
    FakeProcess* p = world_.find_live(pid);
    if (!p) return errno_error("pidfd_open", std::to_string(pid), ESRCH);
    return Handle{p->serial};
  }
  Result<ProcessFacts> inspect(const Handle& handle) {
    FakeProcess* p = world_.find_serial(handle.serial);
    if (!p || !p->alive) return errno_error("inspect", std::to_string(handle.serial), ESRCH);
    return ProcessFacts{p->pid, p->pgid, p->sid, p->cgroup, p->pid_namespace, p->serial, p->root_device};
  }
  Status send(const Handle& handle, int signal) {
    FakeProcess* p = world_.find_serial(handle.serial);
    if (!p || !p->alive) return errno_error("pidfd_send_signal", std::to_string(handle.serial), ESRCH);
    world_.deliver(*p, signal, sender_, false);
    return {};
  }
  // kill(2) by bare PID: no real code path uses it; weakened test variants do.
  Status kill(Pid pid, int signal) {
    FakeProcess* p = world_.find_live(pid);
    if (!p) return errno_error("kill", std::to_string(pid), ESRCH);
    world_.deliver(*p, signal, sender_, true);
    return {};
  }

 private:
  World& world_;
  std::string sender_;
};

static_assert(ProcessTable<FakeProcessTable>);

}  // namespace snapcell::fake
