#pragma once
// Teardown, as one ordered walk over everything a plan names: processes, then
// the mount, the mount point, the volume. Each undo re-proves that its target
// is the session's own before it acts, and is idempotent, so a live session's
// teardown and reap of a dead one are the same code.

#include <algorithm>
#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "snapcell/journal.hpp"
#include "snapcell/ownership.hpp"
#include "snapcell/policies.hpp"
#include "snapcell/report.hpp"

namespace snapcell {

template <VolumeManager V, Mounter M, Supervisor S>
struct Policies {
  V& volumes;
  M& mounter;
  S& supervisor;
};

inline constexpr int kill_attempts = 3;

namespace detail {

// Kill, prove none survive, release the unit. A weak supervisor's empty
// survivor list is reported as what it is: not a proof.
template <VolumeManager V, Mounter M, Supervisor S>
void unwind_processes(Policies<V, M, S> policies, std::optional<typename S::Unit>& unit, Millis grace, Report& report) {
  if (!unit) {
    report.add("kill", "-", Outcome::absent, "nothing was spawned");
    report.containment_proven = true;
    return;
  }
  auto& supervisor = policies.supervisor;
  const std::string target = unit->serialize();
  // A kill the kernel refused (EIO writing cgroup.kill, say) is tried again
  // at once: the deadline does not wait for the next reap.
  Result<std::vector<Pid>> survivors = std::vector<Pid>{};
  for (int attempt = 1; attempt <= kill_attempts; ++attempt) {
    if (Status killed = timed(report, "kill", [&] { return supervisor.kill_all(*unit, grace); }); killed)
      report.add("kill", target, Outcome::done);
    else
      report.add("kill", target, Outcome::failed, killed.error().message());
    survivors = timed(report, "verify", [&] { return supervisor.survivors(*unit); });
    if (survivors && survivors->empty()) break;
  }
  if (!survivors) {
    report.add("verify", target, Outcome::failed, survivors.error().message());
    report.remain(ResourceKind::unit, target, "survivors could not be listed: " + survivors.error().message());
    return;
  }
  if (!survivors->empty()) {
    report.add("verify", target, Outcome::failed, fmt::format("{} process(es) survived", survivors->size()));
    for (Pid pid : *survivors) report.remain(ResourceKind::process, std::to_string(pid), "survived the kill");
    report.remain(ResourceKind::unit, target, "still has processes");
    return;
  }
  report.containment_proven = S::containment == Containment::full;
  report.add("verify", target, Outcome::done,
             report.containment_proven ? "no survivors" : "no survivors visible (weak supervisor)");
  if (Status released = timed(report, "release", [&] { return supervisor.release(*unit); }); released)
    report.add("release", target, Outcome::done);
  else {
    report.add("release", target, Outcome::failed, released.error().message());
    report.remain(ResourceKind::unit, target, released.error().message());
  }
}

// Holders of a proven own mount are signalled only through the supervisor,
// which refuses anything outside the containment unit; the rest are named in
// the report and the mount is detached lazily as the last resort.
template <VolumeManager V, Mounter M, Supervisor S>
Status unmount_proven(Policies<V, M, S> policies, std::optional<typename S::Unit>& unit, const PathFacts& facts,
                      const MountProof& proof, Report& report) {
  auto& mounter = policies.mounter;
  std::vector<MountEntry> below = facts.mounts_below;
  std::sort(below.begin(), below.end(),
            [](const MountEntry& a, const MountEntry& b) { return a.target.size() > b.target.size(); });
  for (const MountEntry& submount : below) {
    Status status = mounter.unmount(submount.target, UnmountMode::plain);
    report.add("unmount", submount.target, status ? Outcome::done : Outcome::failed,
               status ? "submount made by the build" : status.error().message());
  }

  Status status = mounter.unmount(proof.target, UnmountMode::plain);
  if (status || status.code() != EBUSY) return status;

  auto holders = mounter.holders(proof.device);
  std::vector<Pid> outsiders;
  if (holders) {
    for (Pid pid : *holders) {
      bool killed = unit && policies.supervisor.signal_member(*unit, pid, SIGKILL).is_ok();
      if (!killed) outsiders.push_back(pid);
    }
  }
  status = mounter.unmount(proof.target, UnmountMode::plain);
  if (status || status.code() != EBUSY) return status;

  status = mounter.unmount(proof.target, UnmountMode::detach);
  if (status) {
    report.lazily_detached = true;
    report.add("detach", proof.target, Outcome::done,
               fmt::format("busy; held by pid(s) {} outside the containment unit", outsiders));
    for (Pid pid : outsiders)
      report.remain(ResourceKind::process, std::to_string(pid), "holds the session's mount, outside the unit");
  }
  return status;
}

template <VolumeManager V, Mounter M, Supervisor S>
void unwind_mount(Policies<V, M, S> policies, const SessionPlan& plan, std::optional<typename S::Unit>& unit,
                  Report& report) {
  const std::string& path = plan.mount_point;
  auto facts = policies.mounter.facts(path);
  if (!facts) {
    if (facts.code() == ENOENT) {
      report.add("unmount", path, Outcome::absent, "no mount point");
      return;
    }
    report.add("unmount", path, Outcome::failed, facts.error().message());
    report.remain(ResourceKind::mount, path, facts.error().message());
    return;
  }
  if (is_plain_directory(*facts)) {
    report.add("unmount", path, Outcome::absent, "not a mount point");
    return;
  }
  auto proof = decide_ownership(path, *facts, plan.mount_source);
  if (!proof) {
    report.add("unmount", path, Outcome::refused, proof.error().message());
    report.remain(ResourceKind::mount, path, proof.error().message());
    return;
  }
  if (Status status = unmount_proven(policies, unit, *facts, *proof, report); !status) {
    report.add("unmount", path, Outcome::failed, status.error().message());
    report.remain(ResourceKind::mount, path, status.error().message());
    return;
  }
  report.add("unmount", path, Outcome::done);
}

template <Mounter M>
void unwind_mount_point(M& mounter, const SessionPlan& plan, Report& report) {
  const std::string& path = plan.mount_point;
  auto facts = mounter.facts(path);
  if (!facts) {
    if (facts.code() == ENOENT) return report.add("rmdir", path, Outcome::absent);
    report.add("rmdir", path, Outcome::failed, facts.error().message());
    return report.remain(ResourceKind::mount_point, path, facts.error().message());
  }
  if (!is_plain_directory(*facts)) {
    report.add("rmdir", path, Outcome::refused, "still a mount point");
    return report.remain(ResourceKind::mount_point, path, "still a mount point");
  }
  if (facts->path_device == facts->root_device) {
    report.add("rmdir", path, Outcome::refused, "is on the root filesystem's device");
    return report.remain(ResourceKind::mount_point, path, "is on the root filesystem's device");
  }
  if (Status removed = mounter.remove_dir(path); !removed) {
    report.add("rmdir", path, Outcome::failed, removed.error().message());
    return report.remain(ResourceKind::mount_point, path, removed.error().message());
  }
  report.add("rmdir", path, Outcome::done);
}

// Only a snapshot of the recorded origin is removed; an origin (or a volume of
// another origin that happens to carry the name) never is. A volume cut
// short empty needs no such proof: removing it loses nothing (a controller
// killed between making the volume and recording its origin leaves one).
// Why `found` may not be removed for a session of `origin`; empty: it may.
inline std::string volume_removal_refusal(const VolumeInfo& found, const std::string& origin) {
  if (found.cut_short_empty) return "";
  if (found.origin.empty()) return "is an origin, not a snapshot";
  if (!origin.empty() && found.origin != origin)
    return fmt::format("is a snapshot of '{}', not of the session's origin '{}'", found.origin, origin);
  return "";
}

template <VolumeManager V>
void unwind_volume(V& volumes, const SessionPlan& plan, Report& report) {
  auto listed = volumes.list(plan.volume);
  if (!listed) {
    report.add("remove", plan.volume, Outcome::failed, listed.error().message());
    return report.remain(ResourceKind::volume, plan.volume, listed.error().message());
  }
  auto found = std::find_if(listed->begin(), listed->end(), [&](const VolumeInfo& v) { return v.name == plan.volume; });
  if (found == listed->end()) return report.add("remove", plan.volume, Outcome::absent);
  if (const std::string refusal = volume_removal_refusal(*found, plan.origin); !refusal.empty()) {
    report.add("remove", plan.volume, Outcome::refused, refusal);
    return report.remain(ResourceKind::volume, plan.volume, refusal);
  }
  if (Status removed = volumes.remove(plan.volume); !removed) {
    report.add("remove", plan.volume, Outcome::failed, removed.error().message());
    return report.remain(ResourceKind::volume, plan.volume, removed.error().message());
  }
  report.add("remove", plan.volume, Outcome::done);
}

// The teardown of SessionConfig::verify == false (benchmarks only): the same
// steps in the same order, each acting at once, with no proof first and no
// survivor list after the kill. Failures are still reported, never hidden.
template <VolumeManager V, Mounter M, Supervisor S>
void unwind_unverified(Policies<V, M, S> policies, const SessionPlan& plan, std::optional<typename S::Unit>& unit,
                       Millis grace, Report& report) {
  auto record = [&](std::string step, const std::string& target, ResourceKind kind, Status status) {
    report.add(std::move(step), target, status ? Outcome::done : Outcome::failed,
               status ? "unverified" : status.error().message());
    if (!status) report.remain(kind, target, status.error().message());
  };
  if (unit) {
    const std::string target = unit->serialize();
    record("kill", target, ResourceKind::unit, policies.supervisor.kill_all(*unit, grace));
    record("release", target, ResourceKind::unit, policies.supervisor.release(*unit));
  }
  record("unmount", plan.mount_point, ResourceKind::mount, policies.mounter.unmount(plan.mount_point, UnmountMode::plain));
  record("rmdir", plan.mount_point, ResourceKind::mount_point, policies.mounter.remove_dir(plan.mount_point));
  record("remove", plan.volume, ResourceKind::volume, policies.volumes.remove(plan.volume));
}

}  // namespace detail

// After an unwind: a clean session leaves no record; one with remains (or
// whose record could not be erased) keeps it and lets go of its lock, so
// that a later reap may adopt it.
template <JournalStore J>
void settle_record(J& journal, const std::string& name, Report& report) {
  if (report.clean()) {
    Status erased = journal.erase(name);
    if (erased) return report.add("journal", name, Outcome::done, "record erased");
    if (erased.code() == ENOENT) return report.add("journal", name, Outcome::absent, "no record");
    report.add("journal", name, Outcome::failed, erased.error().message());
    report.remain(ResourceKind::journal, name, erased.error().message());
  }
  Status released = journal.release(name);
  report.add("journal", name, released ? Outcome::done : Outcome::failed,
             released ? "record kept for reap" : released.error().message());
}

// Every step runs whatever the previous one did: a failure is recorded and
// the walk goes on, as nsjail's teardown warns and goes on.
template <VolumeManager V, Mounter M, Supervisor S>
void unwind_storage(Policies<V, M, S> policies, const SessionPlan& plan, std::optional<typename S::Unit>& unit,
                    Report& report) {
  timed(report, "unmount", [&] { detail::unwind_mount(policies, plan, unit, report); });
  timed(report, "rmdir", [&] { detail::unwind_mount_point(policies.mounter, plan, report); });
  timed(report, "remove", [&] { detail::unwind_volume(policies.volumes, plan, report); });
}

template <VolumeManager V, Mounter M, Supervisor S>
void unwind(Policies<V, M, S> policies, const SessionPlan& plan, std::optional<typename S::Unit>& unit, Millis grace,
            Report& report, bool verify = true) {
  if (!verify) return detail::unwind_unverified(policies, plan, unit, grace, report);
  detail::unwind_processes(policies, unit, grace, report);
  unwind_storage(policies, plan, unit, report);
}

}  // namespace snapcell
