#pragma once
// What one sandbox may use, as `run`, `build` and `verify` all take it:
// --max-processes, --memory and --disk, checked before anything exists, and
// where each backend puts the disk cap.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/policies.hpp"

namespace snapcell::cli {

struct LimitOptions {
  int max_processes = 256;
  double memory_mib = 1024;
  // What the command may write, MiB; 0: the backend's default (overlay and
  // copy 1 GiB, btrfs none, lvm the COW space chosen from the origin).
  std::uint64_t disk_mib = 0;
};

// The ranges a command accepts; verify's are narrower (its adversaries must
// be able to go past them).
struct LimitRanges {
  int max_processes = 65536;
  double memory_mib = 1 << 20;
  std::uint64_t disk_mib = 1ull << 24;  // 16 TiB
};

inline Status validate(const LimitOptions& limits, const LimitRanges& ranges = {}) {
  auto reject = [](std::string option, std::string why) { return Status{logic_error(std::move(option), "", std::move(why))}; };
  if (limits.max_processes < 16 || limits.max_processes > ranges.max_processes)
    return reject("--max-processes", fmt::format("must be between 16 and {}", ranges.max_processes));
  if (!(limits.memory_mib >= 64 && limits.memory_mib <= ranges.memory_mib))
    return reject("--memory", fmt::format("must be between 64 and {} MiB", ranges.memory_mib));
  if (limits.disk_mib != 0 && (limits.disk_mib < 16 || limits.disk_mib > ranges.disk_mib))
    return reject("--disk", fmt::format("must be between 16 and {} MiB", ranges.disk_mib));
  return {};
}

// --disk in bytes; none when it was not given (each backend's default).
inline std::optional<std::uint64_t> disk_cap_bytes(const LimitOptions& limits) {
  if (limits.disk_mib == 0) return std::nullopt;
  return limits.disk_mib << 20;
}

inline constexpr std::uint64_t mib_bytes(double mib) { return static_cast<std::uint64_t>(mib * 1024 * 1024); }

// What the supervisor's cgroup caps.
inline Limits supervisor_limits(const LimitOptions& limits) {
  return Limits{.max_processes = limits.max_processes, .max_memory_bytes = mib_bytes(limits.memory_mib)};
}

// The limits a session ran under, as the reports show them.
struct SandboxLimits {
  Limits limits;
  bool capped = true;  // both caps are totals over the session (a cgroup's); false: see processes_by, memory_by
  std::string processes_by;                 // what holds the process cap ("nothing: ..." when nothing does)
  std::string memory_by;                    // what holds the memory cap
  std::optional<std::uint64_t> disk_bytes;  // none: no cap in bytes (lvm: see disk_by)
  std::string disk_by;                      // what holds the disk cap
};

// Who holds the process and memory caps. A cgroup counts every process
// and byte of the session. Without one (pidns, session), the sandbox holds
// what rlimits can (sandbox.hpp, LimitsHeldBy): RLIMIT_NPROC counts the one
// uid the sandbox keeps (CAP_SETUID cut), except for the host's root,
// whom it exempts; RLIMIT_DATA bounds each process, not their sum.
inline void set_process_and_memory_holders(SandboxLimits& shown, std::string_view supervisor, bool host_root) {
  const bool has_cgroup = supervisor == "default" || supervisor == "cgroup";
  shown.capped = has_cgroup;
  if (has_cgroup) {
    shown.processes_by = "the session's cgroup (pids.max)";
    shown.memory_by = "the session's cgroup (memory.max)";
    return;
  }
  shown.processes_by = host_root ? "nothing: this supervisor has no cgroup and the host's root is exempt from RLIMIT_NPROC"
                                 : "RLIMIT_NPROC of the sandbox's one uid (no cgroup; CAP_SETUID cut)";
  shown.memory_by = "RLIMIT_DATA of each process, not in total (no cgroup)";
}

inline std::string describe(const SandboxLimits& shown) {
  const std::string disk = shown.disk_bytes ? fmt::format("{} MiB disk", *shown.disk_bytes >> 20) : std::string("disk");
  return fmt::format("{} processes by {}; {} MiB memory by {}; {} by {}", shown.limits.max_processes, shown.processes_by,
                     shown.limits.max_memory_bytes >> 20, shown.memory_by, disk, shown.disk_by);
}

}  // namespace snapcell::cli
