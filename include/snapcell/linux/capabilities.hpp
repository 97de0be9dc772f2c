#pragma once
// The capabilities a build keeps, as data: one list, each entry with the
// reason a package build needs it. Everything else leaves the bounding set
// before the build runs (sandbox.hpp, child::restrict), so that no execve,
// setuid binary or file capability can bring it back, and the effective,
// permitted and inheritable sets are cut to this list (root) or to nothing
// (a build with a uid of its own).
//
// The list is shorter than Docker's default (which also keeps KILL, MKNOD,
// NET_RAW, SETPCAP and AUDIT_WRITE): a build runs as root in the host's user
// namespace, so every capability kept is a power over the host's kernel
// objects that the namespaces do not scope. What is gone, and what it would
// have given a build: SYS_ADMIN (mount, setns, quotas, ...), SYS_MODULE,
// SYS_RAWIO, SYS_BOOT, SYS_TIME, SYSLOG, MKNOD (device nodes), DAC_READ_SEARCH
// (open_by_handle_at: the host's files by inode), SYS_PTRACE, KILL (signals
// to any uid's processes), NET_ADMIN and NET_RAW, IPC_OWNER, SETPCAP, ...
//
// The helpers here run in the controller: only the plan they fill is read by
// the child (no allocation there).

#include <linux/capability.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "snapcell/error.hpp"
#include "snapcell/linux/sys.hpp"

namespace snapcell::linux_sys {

struct KeptCapability {
  int number;
  std::string_view name;
  std::string_view why;  // what in a package build needs it
};

inline constexpr std::array<KeptCapability, 9> kept_capabilities{{
    {CAP_CHOWN, "CAP_CHOWN", "dpkg, tar and install(1) give files to other owners (chown, useradd's home)"},
    {CAP_DAC_OVERRIDE, "CAP_DAC_OVERRIDE", "root writes files whatever their mode (dpkg, pip into site-packages)"},
    {CAP_FOWNER, "CAP_FOWNER", "chmod and utime on files root does not own (dpkg, tar -p)"},
    {CAP_FSETID, "CAP_FSETID", "setgid bits kept on chmod/write (packages with setgid programs)"},
    // Not kept without a cgroup: RLIMIT_NPROC then holds the process cap,
    // and counts one uid only (sandbox.hpp, LimitsHeldBy).
    {CAP_SETUID, "CAP_SETUID", "apt/dpkg and test suites drop to another user (su, setpriv, _apt)"},
    {CAP_SETGID, "CAP_SETGID", "the same for groups (setgroups, setgid)"},
    {CAP_SETFCAP, "CAP_SETFCAP", "postinst scripts that setcap a program (iputils-ping); inert here: the bounding set caps them"},
    {CAP_SYS_CHROOT, "CAP_SYS_CHROOT", "builds that chroot (debootstrap, some test suites); the old root is gone after pivot_root"},
    {CAP_NET_BIND_SERVICE, "CAP_NET_BIND_SERVICE", "test suites that bind ports below 1024 (in the build's own network namespace)"},
}};

inline constexpr std::uint64_t kept_capability_mask() {
  std::uint64_t mask = 0;
  for (const auto& cap : kept_capabilities) mask |= std::uint64_t{1} << cap.number;
  return mask;
}

// The highest capability number this kernel knows (a kernel newer than our
// headers may know more: each of those is dropped too).
inline Result<int> last_capability() {
  auto text = read_file("/proc/sys/kernel/cap_last_cap");
  if (!text) return text.error();
  const int last = std::atoi(text->c_str());
  if (last < CAP_SETFCAP || last > 63) return logic_error("read", "/proc/sys/kernel/cap_last_cap", "implausible: " + *text);
  return last;
}

// What capset(2) is given: the v3 header and two 32-bit halves per set.
struct CapabilitySets {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
};

// `mask` as effective, permitted and inheritable.
inline CapabilitySets capability_sets(std::uint64_t mask) {
  CapabilitySets sets;
  for (int half = 0; half < 2; ++half) {
    const auto bits = static_cast<std::uint32_t>(mask >> (32 * half));
    sets.data[half].effective = bits;
    sets.data[half].permitted = bits;
    sets.data[half].inheritable = bits;
  }
  return sets;
}

// The capability numbers to drop from the bounding set: every one up to
// `last` that is not kept.
inline std::vector<int> bounding_drops(int last, std::uint64_t kept = kept_capability_mask()) {
  std::vector<int> drops;
  for (int cap = 0; cap <= last; ++cap)
    if ((kept & (std::uint64_t{1} << cap)) == 0) drops.push_back(cap);
  return drops;
}

}  // namespace snapcell::linux_sys
