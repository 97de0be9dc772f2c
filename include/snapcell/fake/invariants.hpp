#pragma once
// The invariants I1-I7 of docs/design.md, checked against the fake world's
// ground truth: its signal log, its action log, its tables. Never against what
// a session says of itself, except where I3 demands the report be accurate.

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "snapcell/fake/world.hpp"
#include "snapcell/journal.hpp"
#include "snapcell/report.hpp"

namespace snapcell::fake {

struct Violation {
  std::string invariant;  // "I1" .. "I7"
  std::string what;
};

inline std::string describe(const std::vector<Violation>& violations) {
  std::string text;
  for (const auto& v : violations) text += fmt::format("INVARIANT VIOLATED {}: {}\n", v.invariant, v.what);
  return text;
}

// Everything of one session that still exists, by the world's account.
struct Leftovers {
  std::vector<std::string> processes;  // PIDs as text, as a report names them
  std::vector<std::string> mounts;
  bool mount_point = false;
  bool volume = false;
  bool cgroup = false;
  bool journal = false;

  bool any_resource() const { return !processes.empty() || !mounts.empty() || mount_point || volume || cgroup; }
};

inline Leftovers leftovers_of(const World& world, const std::string& session) {
  Leftovers left;
  if (session.empty()) return left;  // never claimed a name: owns nothing
  const std::string mount_point = mount_point_for(world.options().run_dir, session);
  for (const auto& p : world.processes())
    if (p.alive && p.lineage == session) left.processes.push_back(std::to_string(p.pid));
  auto volume = world.volumes().find(session);
  left.volume = volume != world.volumes().end();
  for (const auto& m : world.mounts())
    if (m.target == mount_point || m.target.rfind(mount_point + "/", 0) == 0 ||
        (left.volume && m.device == volume->second.device))
      left.mounts.push_back(m.target);
  left.mount_point = world.dir_exists(mount_point);
  left.cgroup = world.cgroups().count(join_path(world.options().cgroup_parent, session)) != 0;
  left.journal = world.journal().count(session) != 0;
  return left;
}

// I1: every signal reached a process of the sender's own build, through a
// pidfd. The kernel's own kills (namespace teardown, death signal) count as
// the build's when they hit the build.
inline std::vector<Violation> check_no_collateral(const World& world) {
  std::vector<Violation> found;
  for (const auto& s : world.signals()) {
    if (s.by_bare_pid)
      found.push_back({"I1", fmt::format("signal {} sent by bare pid {} (hit '{}')", s.signal, s.pid, s.target_label)});
    if (s.target_lineage.empty())
      found.push_back({"I1", fmt::format("{} sent signal {} to protected process {} '{}'", s.sender, s.signal, s.pid,
                                         s.target_label)});
    else if (s.sender != "kernel" && s.sender != s.target_lineage)
      found.push_back({"I1", fmt::format("{} sent signal {} to process {} of another build '{}'", s.sender, s.signal,
                                         s.pid, s.target_label)});
  }
  return found;
}

// I2, I5, I6: every action on a session's resource was taken by the holder
// of that session's journal record (the session itself, or a reaper that
// adopted a dead one); no destructive action ever touched the root device or
// something that carries no session's name.
inline std::vector<Violation> check_own_resources(const World& world) {
  std::vector<Violation> found;
  for (const auto& a : world.actions()) {
    auto what = fmt::format("{} of '{}' by controller {}", to_string(a.kind), a.target, a.actor);
    if (is_destructive(a.kind) && a.device == root_device)
      found.push_back({"I2", fmt::format("{} acted on the root device{}", what,
                                         a.would_hit.empty() ? "" : fmt::format(", matching {}", a.would_hit))});
    if (is_destructive(a.kind) && a.session.empty())
      found.push_back({"I2", fmt::format("{}: the target is no session's resource", what)});
    else if (is_destructive(a.kind) && !a.target_is_sessions)
      found.push_back({"I2", fmt::format("{}: not a mount or device session {} made (device {}){}", what, a.session,
                                         a.device, a.would_hit.empty() ? "" : fmt::format(", matching {}", a.would_hit))});
    else if (!a.session.empty() && !a.actor_held_lock)
      found.push_back({is_destructive(a.kind) ? "I6" : "I5",
                       fmt::format("{}: the actor did not hold session {}'s journal record", what, a.session)});
  }
  return found;
}

// I3: after teardown, what is left of the session is exactly what the report
// names; and a report that claims proven containment has no live process.
inline std::vector<Violation> check_nothing_leaked(const World& world, const Report& report) {
  std::vector<Violation> found;
  const std::string& session = report.session;
  Leftovers left = leftovers_of(world, session);
  auto named = [&](ResourceKind kind, const std::string& target) {
    return std::any_of(report.remains.begin(), report.remains.end(),
                       [&](const Remains& r) { return r.kind == kind && r.target == target; });
  };
  auto named_kind = [&](ResourceKind kind) {
    return std::any_of(report.remains.begin(), report.remains.end(), [&](const Remains& r) { return r.kind == kind; });
  };
  const std::string mount_point = mount_point_for(world.options().run_dir, session);
  if (report.containment_proven && !left.processes.empty())
    found.push_back({"I3", fmt::format("{}: containment reported proven, but process(es) {} are alive", session,
                                       left.processes)});
  for (const auto& pid : left.processes)
    if (!named(ResourceKind::process, pid) && !named_kind(ResourceKind::unit))
      found.push_back({"I3", fmt::format("{}: process {} is alive and the report does not name it", session, pid)});
  for (const auto& target : left.mounts)
    if (!named(ResourceKind::mount, mount_point))
      found.push_back({"I3", fmt::format("{}: mount at {} remains and the report does not name it", session, target)});
  if (left.mount_point && !named(ResourceKind::mount_point, mount_point) && !named(ResourceKind::mount, mount_point))
    found.push_back({"I3", fmt::format("{}: mount point {} remains and the report does not name it", session, mount_point)});
  if (left.volume && !named(ResourceKind::volume, session))
    found.push_back({"I3", fmt::format("{}: volume remains and the report does not name it", session)});
  if (left.cgroup && !named_kind(ResourceKind::unit))
    found.push_back({"I3", fmt::format("{}: cgroup remains and the report does not name it", session)});
  if (report.clean() && left.journal)
    found.push_back({"I3", fmt::format("{}: clean report, but the journal record remains", session)});
  return found;
}

// I3 in its strict form, for after a successful reap: nothing at all.
inline std::vector<Violation> check_all_gone(const World& world, const std::string& session, std::string_view when) {
  std::vector<Violation> found;
  Leftovers left = leftovers_of(world, session);
  if (!left.processes.empty())
    found.push_back({"I3", fmt::format("{} {}: process(es) {} alive", when, session, left.processes)});
  if (!left.mounts.empty()) found.push_back({"I3", fmt::format("{} {}: mounts {} remain", when, session, left.mounts)});
  if (left.mount_point) found.push_back({"I3", fmt::format("{} {}: mount point remains", when, session)});
  if (left.volume) found.push_back({"I3", fmt::format("{} {}: volume remains", when, session)});
  if (left.cgroup) found.push_back({"I3", fmt::format("{} {}: cgroup remains", when, session)});
  if (left.journal) found.push_back({"I3", fmt::format("{} {}: journal record remains", when, session)});
  return found;
}

// I4: the origin is there and its content is what it was.
inline std::vector<Violation> check_base_untouched(const World& world) {
  auto base = world.volumes().find(world.options().origin);
  if (base == world.volumes().end()) return {{"I4", "the origin volume is gone"}};
  if (base->second.files != world.base_files_at_start()) return {{"I4", "the origin's content changed"}};
  return {};
}

// I7: no process of a build outlived the moment its supervisor's wait gave
// up on it by more than the grace period, nor exceeded the process cap.
// Sessions in `exempt` lost their controller after the wait: a dead
// controller enforces nothing, and bounding them falls to reap (I6).
inline std::vector<Violation> check_bounded(const World& world, Millis grace, int max_processes,
                                            const std::set<std::string>& exempt = {}) {
  std::vector<Violation> found;
  for (const auto& [session, enforced_at] : world.deadline_enforced()) {
    if (exempt.count(session)) continue;
    const Time limit = enforced_at + grace.count();
    for (const auto& p : world.processes()) {
      if (p.lineage != session) continue;
      Time end = p.alive ? world.now() : p.died;
      if (end > limit)
        found.push_back({"I7", fmt::format("{}: process {} '{}' lived {} ms past its deadline plus grace", session,
                                           p.pid, p.label, end - limit)});
    }
  }
  for (const auto& [session, peak] : world.peak_processes())
    if (peak > max_processes)
      found.push_back({"I7", fmt::format("{}: {} processes at once, over the cap of {}", session, peak, max_processes)});
  return found;
}

inline void append(std::vector<Violation>& to, std::vector<Violation> more) {
  to.insert(to.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
}

// The checks that hold at every moment, whatever is in flight.
inline std::vector<Violation> check_always(const World& world) {
  std::vector<Violation> found = check_no_collateral(world);
  append(found, check_own_resources(world));
  append(found, check_base_untouched(world));
  return found;
}

}  // namespace snapcell::fake
