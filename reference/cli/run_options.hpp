#pragma once
// `snapcell run`'s request, and its validation: everything a user hands in is
// checked here, before anything is created, and refused with one line.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "cli/cgroups.hpp"
#include "cli/limit_options.hpp"
#include "cli/lvm_base.hpp"
#include "snapcell/error.hpp"
#include "snapcell/linux/lvm_volumes.hpp"
#include "snapcell/linux/overlay_volumes.hpp"
#include "snapcell/names.hpp"

namespace snapcell::cli {

inline constexpr std::string_view backends[] = {"overlay", "btrfs", "copy", "lvm"};
inline constexpr std::string_view supervisors[] = {"default", "cgroup", "pidns", "session"};

// The output a log keeps: more than any build log of the corpus by far,
// little for a state dir in RAM. --log-cap takes 1 MiB to 64 GiB.
inline constexpr std::uint64_t default_log_cap_mib = 64;

inline Status validate_log_cap(std::uint64_t mib) {
  if (mib < 1 || mib > (64u << 10)) return logic_error("--log-cap", "", "must be between 1 and 65536 MiB");
  return {};
}

struct RunOptions {
  std::string base;
  std::string backend = "overlay";
  std::string supervisor = "default";
  double timeout_seconds = 60;
  double grace_seconds = 2;
  bool json = false;
  bool summary = false;                     // one line: outcome, cleanup, per-phase timings
  std::string state_dir = "/run/snapcell";  // mount points, journal, overlay layers; must not be on `/`
  std::string snapshot_dir;                 // btrfs: where snapshots go; default: beside the base
  std::string cgroup_parent = default_cgroup_parent();
  std::string log;                          // the command's output; default: <state dir>/logs/<session>.log
  std::uint64_t log_cap_mib = default_log_cap_mib;  // what of the output is kept; the rest is counted and dropped
  std::string network = "none";             // none: a network namespace with only loopback; host: the host's
  std::string userns = "own";               // own: root of a user namespace of its own; host: the host's root
  IdRange user_namespace;                   // own: the range leased for the session (run_command fills it)
  std::vector<std::string> copy_in;         // files copied into /in of the snapshot before the command runs
  LimitOptions limits;                      // --max-processes, --memory, --disk (where it goes: disk_write_bytes...)
  std::string cow_size;                     // --cow-size, lvm classic (lvcreate -L); default: from the origin
  std::optional<linux_sys::LvmConfig> lvm;  // lvm: what check_base learnt of the origin (VG, mode, filesystem)
  std::vector<std::string> command;
};

inline bool one_of(std::string_view value, const auto& choices) {
  for (std::string_view choice : choices)
    if (value == choice) return true;
  return false;
}

// --userns of run, build and verify: own (the default) or host.
inline Status validate_userns(const std::string& userns) {
  if (userns == "own" || userns == "host") return {};
  return logic_error("--userns", "", fmt::format("unknown user namespace '{}' (own or host)", userns));
}

// What `run` and `build` (and verify) share: which sandbox, and its deadline.
inline Status validate_sandbox_choices(std::string_view backend, std::string_view supervisor, double timeout_seconds,
                                       double grace_seconds) {
  auto reject = [](std::string option, std::string why) { return Status{logic_error(std::move(option), "", std::move(why))}; };
  if (!one_of(backend, backends))
    return reject("--backend", fmt::format("unknown backend '{}' (overlay, btrfs, copy or lvm)", backend));
  if (!one_of(supervisor, supervisors))
    return reject("--supervisor", fmt::format("unknown supervisor '{}' (default, cgroup, pidns or session)", supervisor));
  if (!(timeout_seconds > 0 && timeout_seconds <= 7 * 24 * 3600))
    return reject("--timeout", "must be between 0 and one week of seconds");
  if (!(grace_seconds >= 0 && grace_seconds <= 600)) return reject("--grace", "must be between 0 and 600 seconds");
  return {};
}

// --disk MIB as each backend takes it. Overlay's layers and copy's growth:
// 1 GiB unless given. btrfs: a qgroup limit on the snapshot (needs quotas),
// none unless given. lvm classic: the COW space, --disk or --cow-size (never
// both), else the origin's default (empty). A thin LV's snapshot writes into
// its pool, which is its cap, so --disk is refused there (check_base).
inline std::uint64_t disk_write_bytes(const RunOptions& options) {
  return disk_cap_bytes(options.limits).value_or(linux_sys::scratch_volumes::default_write_bytes);
}

inline std::string snapshot_cow_size(const RunOptions& options) {
  return options.limits.disk_mib ? fmt::format("{}m", options.limits.disk_mib) : options.cow_size;
}

// The limits the command ran under, and what holds each. `host_root`: the
// command is root of the host's user namespace (run --userns host; never a
// build, whose user is an unprivileged uid either way).
inline SandboxLimits sandbox_limits(const RunOptions& options, bool host_root) {
  SandboxLimits shown;
  shown.limits = supervisor_limits(options.limits);
  set_process_and_memory_holders(shown, options.supervisor, host_root);
  if (options.backend == "overlay" || options.backend == "copy") {
    shown.disk_bytes = disk_write_bytes(options);
    shown.disk_by = options.backend == "overlay" ? "the layers' tmpfs" : "the copy's tmpfs, beyond the copy";
  } else if (options.backend == "btrfs") {
    shown.disk_bytes = disk_cap_bytes(options.limits);
    shown.disk_by = shown.disk_bytes ? "the snapshot's qgroup" : "none (the filesystem's free space)";
  } else if (options.lvm && options.lvm->mode == linux_sys::LvmSnapshotMode::classic) {
    shown.disk_by = "the snapshot's COW space, " + options.lvm->classic_size;
  } else {
    shown.disk_by = "the thin pool";
  }
  return shown;
}

// What run, build and verify refuse alike about the limits.
inline Status validate_limits(const LimitOptions& limits, std::string_view cow_size, const LimitRanges& ranges = {}) {
  if (Status valid = validate(limits, ranges); !valid) return valid;
  if (limits.disk_mib != 0 && !cow_size.empty())
    return logic_error("--disk", "", "and --cow-size both size an lvm snapshot's COW space: give one of them");
  return {};
}

inline Status validate(const RunOptions& options) {
  auto reject = [](std::string option, std::string why) { return Status{logic_error(std::move(option), "", std::move(why))}; };
  if (options.backend == "lvm") {
    if (auto name = parse_lvm_base(options.base); !name) return name.error();
    if (!options.cow_size.empty())
      if (Status size = validate_lvm_size("--cow-size", options.cow_size); !size) return size;
  } else if (Status base = validate_absolute_path("--base", options.base); !base) {
    return base;
  }
  if (Status sandbox = validate_sandbox_choices(options.backend, options.supervisor, options.timeout_seconds,
                                                options.grace_seconds);
      !sandbox)
    return sandbox;
  if (Status userns = validate_userns(options.userns); !userns) return userns;
  // A command that is root of the host's user namespace without a PID
  // namespace could signal any host process of uid 0 by its PID, which no
  // capability or seccomp rule can tell from its own (issue 13, item 3).
  // Root of its own user namespace has no power over them. The weak
  // supervisors also stay in `verify`, whose matrices show that hole.
  if (options.userns == "host" && (options.supervisor == "cgroup" || options.supervisor == "session"))
    return reject("--supervisor", fmt::format("'{}' has no PID namespace: a command that is root of the host's user namespace "
                                              "could signal the host's root processes by PID (use default or pidns, or "
                                              "--userns own; snapcell verify --supervisor {} shows what it fails to contain)",
                                              options.supervisor, options.supervisor));
  if (Status limits = validate_limits(options.limits, options.cow_size); !limits) return limits;
  if (Status state = validate_absolute_path("--state-dir", options.state_dir); !state) return state;
  if (!options.snapshot_dir.empty())
    if (Status dir = validate_absolute_path("--snapshot-dir", options.snapshot_dir); !dir) return dir;
  if (!host_cgroups()) return host_cgroups().error();
  if (Status cgroup = validate_absolute_path("--cgroup-parent", options.cgroup_parent); !cgroup) return cgroup;
  if (!options.log.empty())
    if (Status log = validate_absolute_path("--log", options.log); !log) return log;
  if (Status cap = validate_log_cap(options.log_cap_mib); !cap) return cap;
  if (options.network != "none" && options.network != "host")
    return reject("--network", fmt::format("unknown network '{}' (none or host)", options.network));
  // Root of the host's user namespace in the host's network namespace holds
  // CAP_NET_ADMIN over the host's interfaces, routes and firewall, and
  // reaches its abstract sockets (issue 13, item 4). Root of its own user
  // namespace holds no capability over a network namespace it did not make.
  if (options.network == "host" && options.userns == "host")
    return reject("--network", "'host' only with --userns own: root of the host's user namespace would administer "
                               "the host's network (interfaces, routes, firewall) and reach its abstract sockets");
  for (const auto& file : options.copy_in)
    if (Status valid = validate_absolute_path("--copy-in", file); !valid) return valid;
  if (options.command.empty() || options.command.front().empty())
    return reject("command", "is empty: give it after '--', e.g. snapcell run --base DIR -- make");
  return {};
}

}  // namespace snapcell::cli
