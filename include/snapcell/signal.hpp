#pragma once
// The one way snapcell signals a process: open a handle that pins its
// identity (a pidfd), re-read the process's facts through it, check that it
// is still a member of the unit, and only then signal through the handle.
// A PID that died and was recycled by an unrelated process between a listing
// and the signal fails the membership check instead of being hit.

#include <cstdint>
#include <string>
#include <vector>

#include "snapcell/error.hpp"
#include "snapcell/policies.hpp"

namespace snapcell {

// What can be known of a process through its pidfd.
struct ProcessFacts {
  Pid pid = 0;
  Pid pgid = 0;
  Pid sid = 0;
  std::string cgroup;        // unified-hierarchy path
  std::uint64_t pid_namespace = 0;
  std::uint64_t start_time = 0;  // distinguishes incarnations of one PID
  DeviceId root_device = 0;
};

template <class T>
concept ProcessTable = requires(T table, Pid pid, const typename T::Handle& handle, int signal) {
  typename T::Handle;
  { table.open(pid) } -> std::same_as<Result<typename T::Handle>>;
  { table.inspect(handle) } -> std::same_as<Result<ProcessFacts>>;  // ESRCH once the pinned process is gone
  { table.send(handle, signal) } -> std::same_as<Status>;
};

// Signals `pid` only if, pinned by its handle, it satisfies `is_member`.
// Returns ESRCH when it is gone, and a refusal with code 0 when it is not a member.
template <ProcessTable T, class MemberTest>
Status signal_if_member(T& table, Pid pid, int signal, MemberTest&& is_member) {
  auto handle = table.open(pid);
  if (!handle) return handle.status();
  auto facts = table.inspect(*handle);
  if (!facts) return facts.status();
  if (!is_member(*facts)) return logic_error("signal member", std::to_string(pid), "not a member of the unit");
  return table.send(*handle, signal);
}

struct SignalSweep {
  std::vector<Pid> not_members;  // listed, but not (or no longer) in the unit: never signalled
  std::vector<Error> failures;   // members the signal did not reach, for the report
};

// Signals every listed member. A PID that died meanwhile is neither; any
// other failure is returned, never swallowed.
template <ProcessTable T, class MemberTest>
SignalSweep signal_members(T& table, const std::vector<Pid>& pids, int signal, MemberTest&& is_member) {
  SignalSweep sweep;
  for (Pid pid : pids) {
    Status status = signal_if_member(table, pid, signal, is_member);
    if (status || status.code() == ESRCH) continue;
    if (status.code() == 0) sweep.not_members.push_back(pid);
    else sweep.failures.push_back(status.error());
  }
  return sweep;
}

}  // namespace snapcell
