#pragma once
// The seccomp filter every build runs under: a hand-written classic BPF
// program, built in the controller before the clone (the child only hands
// it to the kernel), as a deny list that a review reads as one table.
//
// Why a deny list and not an allow list: the builds are arbitrary package
// builds (compilers, test suites, language runtimes), whose syscall needs
// grow with every new glibc; an allow list that is not maintained breaks
// them with EPERM in places nobody looks. The denied calls are those whose
// only use in a build would be to reach the host's kernel state, which no
// namespace scopes while the build is root of the host's user namespace.
// The capability bounding set (capabilities.hpp) already refuses most of
// them; the filter is the second wall, and the only one for the calls that
// need no capability at all (keyctl on root's own user keyring, kill(-1)
// to every process of the same uid, a new user namespace with all
// capabilities in it, bpf and perf_event_open where unprivileged use is on).
//
// The program:
//   1. the architecture must be the one we were built for, else the process
//      is killed (a 32-bit syscall on x86_64 has other numbers: int 0x80
//      would walk past a filter written for the 64-bit table); on x86_64 the
//      x32 range (bit 30) is refused;
//   2. each denied call answers EPERM (a build sees a plain "not permitted");
//   3. clone3 answers ENOSYS: its flags are in memory BPF cannot read, and
//      glibc then falls back to clone, whose flags it can (Docker's idiom);
//   4. clone and unshare with any CLONE_NEW* flag, kill(-1, ...) and the
//      terminal-injection ioctls TIOCSTI and TIOCLINUX answer EPERM;
//   5. everything else is allowed.
// Mounting a new proc, sysfs, cgroup2 or binfmt_misc needs mount(2) or the
// new mount API (fsopen/fsmount): all of them are denied, whatever the
// filesystem type (a pointer BPF cannot follow).

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace snapcell::linux_sys {

#if defined(__x86_64__)
inline constexpr std::uint32_t seccomp_arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
inline constexpr std::uint32_t seccomp_arch = AUDIT_ARCH_AARCH64;
#else
#error "snapcell's seccomp filter knows x86_64 and aarch64 only"
#endif
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "argument offsets below take the low word first");

// The calls a build never gets, each with what it would reach.
inline const std::vector<long>& denied_syscalls() {
  static const std::vector<long> calls = {
      SYS_init_module, SYS_finit_module, SYS_delete_module,  // kernel modules
      SYS_kexec_load,
#ifdef SYS_kexec_file_load
      SYS_kexec_file_load,  // another kernel
#endif
      SYS_reboot,  // reboot, halt, Ctrl-Alt-Del behaviour
      SYS_swapon, SYS_swapoff,
      SYS_bpf, SYS_perf_event_open,  // kernel programs, kernel and other processes' events
      SYS_keyctl, SYS_add_key, SYS_request_key,  // keyrings are not namespaced: root's user keyring is the host's
      SYS_open_by_handle_at,  // opens any inode of a mounted filesystem, whatever the root (the "shocker" escape)
      SYS_userfaultfd,  // stalls the kernel at will: a tool for exploiting races
      SYS_settimeofday, SYS_clock_settime, SYS_clock_adjtime, SYS_adjtimex,  // the host's clock
      SYS_syslog,  // the kernel log
      SYS_acct, SYS_quotactl, SYS_vhangup,
      SYS_setns,  // joins another namespace
      SYS_mount, SYS_umount2, SYS_pivot_root,  // new proc, sysfs, cgroup2, binfmt_misc, or any mount at all
#ifdef SYS_open_tree
      SYS_open_tree, SYS_move_mount, SYS_fsopen, SYS_fsconfig, SYS_fsmount, SYS_fspick,
#endif
#ifdef SYS_mount_setattr
      SYS_mount_setattr,
#endif
#ifdef SYS_iopl
      SYS_iopl, SYS_ioperm,  // I/O ports
#endif
#ifdef SYS_lookup_dcookie
      SYS_lookup_dcookie,
#endif
  };
  return calls;
}

inline constexpr std::uint32_t clone_new_flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
                                                 CLONE_NEWNET | CLONE_NEWCGROUP | 0x00000080u /* CLONE_NEWTIME */;

namespace detail {

inline constexpr std::uint32_t offset_nr = offsetof(seccomp_data, nr);
inline constexpr std::uint32_t offset_arch = offsetof(seccomp_data, arch);
inline constexpr std::uint32_t offset_arg_low(int i) { return offsetof(seccomp_data, args) + 8u * static_cast<std::uint32_t>(i); }

inline sock_filter statement(std::uint16_t code, std::uint32_t k) { return sock_filter{code, 0, 0, k}; }
inline sock_filter jump(std::uint16_t code, std::uint32_t k, std::uint8_t if_true, std::uint8_t if_false) {
  return sock_filter{code, if_true, if_false, k};
}
inline constexpr std::uint32_t deny_with(int error) { return SECCOMP_RET_ERRNO | (static_cast<std::uint32_t>(error) & SECCOMP_RET_DATA); }

}  // namespace detail

// The program (see the top). Built once per spawn, before the clone.
inline std::vector<sock_filter> seccomp_program() {
  using namespace detail;
  std::vector<sock_filter> p;
  const auto load = [&](std::uint32_t offset) { p.push_back(statement(BPF_LD | BPF_W | BPF_ABS, offset)); };
  const auto ret = [&](std::uint32_t value) { p.push_back(statement(BPF_RET | BPF_K, value)); };
  // if A == value: return `action`, else go on.
  const auto return_if = [&](std::uint32_t value, std::uint32_t action) {
    p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, value, 0, 1));
    ret(action);
  };
  // if syscall == nr and (arg_low & mask) != 0: EPERM; A is reloaded with nr after.
  const auto deny_if_arg_has = [&](long nr, int arg, std::uint32_t mask) {
    p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(nr), 0, 4));
    load(offset_arg_low(arg));
    p.push_back(jump(BPF_JMP | BPF_JSET | BPF_K, mask, 0, 1));
    ret(deny_with(EPERM));
    load(offset_nr);
  };
  // if syscall == nr and arg_low == value: EPERM; A is reloaded with nr after.
  const auto deny_if_arg_is = [&](long nr, int arg, std::uint32_t value) {
    p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(nr), 0, 4));
    load(offset_arg_low(arg));
    p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, value, 0, 1));
    ret(deny_with(EPERM));
    load(offset_nr);
  };

  load(offset_arch);
  p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, seccomp_arch, 1, 0));
  ret(SECCOMP_RET_KILL_PROCESS);
  load(offset_nr);
#if defined(__x86_64__)
  p.push_back(jump(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u /* __X32_SYSCALL_BIT */, 0, 1));
  ret(deny_with(EPERM));
#endif
  for (long nr : denied_syscalls()) return_if(static_cast<std::uint32_t>(nr), deny_with(EPERM));
#ifdef SYS_clone3
  return_if(SYS_clone3, deny_with(ENOSYS));
#endif
  deny_if_arg_has(SYS_clone, 0, clone_new_flags);
  deny_if_arg_has(SYS_unshare, 0, clone_new_flags);
  deny_if_arg_is(SYS_kill, 0, 0xffffffffu);  // kill(-1, sig): every process the uid may signal
  deny_if_arg_is(SYS_ioctl, 1, TIOCSTI);
  deny_if_arg_is(SYS_ioctl, 1, TIOCLINUX);
  ret(SECCOMP_RET_ALLOW);
  return p;
}

}  // namespace snapcell::linux_sys
