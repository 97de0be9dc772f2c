#pragma once
// The techniques `snapcell verify` runs, one fresh session each. Each is a
// static program of harness/adversaries (its header comment says what it
// tries and what "contained" means); here, how it is started and which
// extra check from outside judges it, beyond the checks every technique gets
// (host_checks.hpp: no process, mount, volume or cgroup of the session left,
// sentinel processes alive, the base unchanged, no escape to a host
// directory, no connection to the host's loopback, the deadline kept; and
// the host's kernel state a root build could reach: its name, clock, the
// sysctls below, keyrings, SysV IPC objects, modules, sysrq lines in its
// kernel log, and a witness process outside that must get no signal, no
// tracer and no cgroup move). The root techniques also report what they
// reached ("snapcell-probe: reached ..." in the log, see
// harness/adversaries/probe.h): such a line is a leak; its absence is never
// taken as proof.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace snapcell::cli {

// A bound an adversary must be stopped at (the build's limits), measured
// from outside.
enum class CapCheck {
  none,
  processes,  // peak live processes of the session <= Limits::max_processes
  memory,     // peak resident memory (getrusage RUSAGE_CHILDREN) <= Limits::max_memory_bytes
  storage,    // peak growth of the space used below the scratch dir <= the per-session disk cap
};

struct Technique {
  std::string_view name;     // the program's name in harness/adversaries
  std::string_view summary;  // what it tries, in a few words
  // "{port}", "{host_dir}", "{bound_mib}", "{witness_pid}", "{ipc_key}",
  // "{root_major}", "{root_minor}" are filled in
  std::vector<std::string_view> arguments;
  CapCheck cap = CapCheck::none;
  // Why it is not run under a supervisor, if it is not.
  std::optional<std::string_view> (*not_applicable)(std::string_view supervisor) = nullptr;
};

inline std::optional<std::string_view> storm_needs_a_unit(std::string_view supervisor) {
  if (supervisor == "session")
    return "a storm that wins the race against a process-group sweep could only be ended by PID, "
           "which the checker never signals";
  return std::nullopt;
}

inline const std::vector<Technique>& catalogue() {
  static const std::vector<Technique> techniques = {
      {"setsid_escape", "setsid() in a child, the parent exits", {}},
      {"double_fork", "fork, setsid, fork again: a daemon", {}},
      {"setpgid_escape", "setpgid(0, 0) in a child: a group of its own", {}},
      {"fork_during_kill", "forks and setsid()s on SIGTERM", {}},
      {"fork_storm", "forks in a loop, its PID changing all the time", {}, CapCheck::none, storm_needs_a_unit},
      {"ignores_term", "ignores SIGTERM and SIGHUP", {}},
      {"stops_itself", "SIGSTOPs itself and a child", {}},
      {"zombie_orphan_chain", "zombies and a chain of 8 orphans", {}},
      {"keeps_cwd", "cwd in the snapshot", {}},
      {"holds_file", "a file of the snapshot open and mapped", {}},
      {"mounts_tmpfs", "tmpfs on /mnt and over /proc", {}},
      {"binds_root", "binds / into itself", {}},
      {"chroot_escape", "mkdir, chroot, chdir .. x64, chroot .", {"{host_dir}"}},
      {"reaches_network", "TCP connect to the host's 127.0.0.1", {"{port}"}},
      {"writes_base", "writes / and the overlay's lowerdir", {}},
      {"fills_disk", "writes until ENOSPC (bounded)", {"{bound_mib}"}, CapCheck::storage},
      {"eats_memory", "touches memory until ENOMEM (bounded)", {"{bound_mib}"}, CapCheck::memory},
      {"fork_bomb_bounded", "forks up to 2000 sleepers", {}, CapCheck::processes},
      {"renames_self", "calls itself sshd (comm and cmdline)", {}},
      {"sleeps_past_deadline", "sleeps 1000 s", {}},
      // Root inside the sandbox against the host's kernel (issue 13).
      {"sets_hostname", "sethostname(): renames the host", {}},
      {"writes_sysctl", "writes /proc/sys/fs/lease-break-time (same value)", {}},
      {"triggers_sysrq", "writes 'h' to /proc/sysrq-trigger", {}},
      {"opens_host_disk", "mknod of the host's root disk, read, mount", {"{root_major}", "{root_minor}"}},
      {"opens_by_handle", "open_by_handle_at (the shocker escape)", {}},
      {"loads_module", "finit_module of an empty file", {}},
      {"reboots_bad_magic", "reboot(2) with a bad magic", {}},
      {"sets_clock", "clock_settime to the current time", {}},
      {"uses_host_keyring", "add_key into root's user keyring", {}},
      {"removes_host_ipc", "removes the host's SysV shm segment", {"{ipc_key}"}},
      {"mounts_kernel_fs", "mounts new proc, sysfs, cgroup2, binfmt_misc", {}},
      {"kills_everyone", "kill(-1, SIGURG)", {}},
      {"signals_outside", "kill(PID of a host process, SIGURG)", {"{witness_pid}"}},
      {"ptraces_outside", "PTRACE_SEIZE of a host process", {"{witness_pid}"}},
      {"loads_bpf", "bpf(BPF_PROG_LOAD) of a socket filter", {}},
      {"moves_host_pid", "writes a host PID into its cgroup.procs", {"{witness_pid}"}},
      {"leaves_namespaces", "unshare(CLONE_NEWUSER), setns, unshare(NEWNS)", {}},
      {"well_behaved", "the control: prints hello, exits 0", {}},
  };
  return techniques;
}

// The sysctls a technique touches: compared before and after every
// session, and written back if one changed.
inline const std::vector<std::string>& touched_sysctls() {
  static const std::vector<std::string> paths = {"/proc/sys/fs/lease-break-time"};
  return paths;
}

inline const Technique* find_technique(std::string_view name) {
  for (const auto& technique : catalogue())
    if (technique.name == name) return &technique;
  return nullptr;
}

}  // namespace snapcell::cli
