#pragma once
// I9 Interruptible: SIGINT (Ctrl-C), SIGTERM (CI cancellation, timeout(1)),
// SIGHUP (a closed terminal) and SIGQUIT to the controller mean "the
// deadline is now", never "die where you stand". They are blocked before the
// controller makes anything and read from a signalfd wherever it waits: the
// supervisor polls that fd beside the build's pidfd (SupervisorConfig::
// interrupt_fd), and the steps around the build ask between steps. What
// follows a signal is the ordinary verified teardown; signals that come
// during it stay blocked, so it always completes (SIGKILL alone can stop it,
// and leaves the rest to `snapcell reap`).
//
// A blocked mask is inherited across fork and execve: every child snapcell
// makes resets it (child_after_fork here, reset_signals in sandbox.hpp).
// A signal the controller was started with ignored (nohup's SIGHUP, a
// background job's SIGINT) stays ignored: the kernel drops it before it
// could be queued for the signalfd.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/linux/fd.hpp"

namespace snapcell::linux_sys {

inline constexpr int interrupt_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// "SIGINT" for 2; "signal N" for one without an abbreviation.
inline std::string signal_name(int signal) {
  const char* abbreviation = ::sigabbrev_np(signal);
  return abbreviation ? fmt::format("SIG{}", abbreviation) : fmt::format("signal {}", signal);
}

inline sigset_t interrupt_set() {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : interrupt_signals) sigaddset(&set, signal);
  return set;
}

// The controller's one record of being interrupted: the first of the signals
// that arrived, latched. One per process (interrupts() below).
class Interrupts {
 public:
  // Blocks the signals in the calling thread, which must be the main thread
  // before any other exists (threads inherit the mask; a signal that some
  // thread leaves unblocked would be delivered there instead), and opens
  // the signalfd they are read from. Idempotent.
  Status install() {
    if (fd_) return {};
    const sigset_t set = interrupt_set();
    if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return errno_error("sigprocmask", "SIG_BLOCK");
    const int fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0) return errno_error("signalfd", "SIGINT SIGTERM SIGHUP SIGQUIT");
    fd_.reset(fd);
    return {};
  }

  // Readable while a signal waits to be read: what a wait polls besides its
  // own fd. -1 before install().
  int fd() const { return fd_.get(); }

  // Reads what has arrived, without waiting: the first signal ever seen, 0
  // if none. Later signals are read (so the fd stops being readable) and
  // otherwise ignored: the teardown the first one started goes on.
  int check() {
    if (!fd_) return first_;
    signalfd_siginfo info{};
    while (::read(fd_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      if (first_ == 0) {
        first_ = static_cast<int>(info.ssi_signo);
        std::fprintf(stderr,
                     "snapcell: %s: ending now with a full teardown (further signals do not stop it; "
                     "after SIGKILL, run 'snapcell reap')\n",
                     signal_name(first_).c_str());
      }
    }
    return first_;
  }

  int signal() const { return first_; }

 private:
  UniqueFd fd_;
  int first_ = 0;
};

inline Interrupts& interrupts() {
  static Interrupts instance;
  return instance;
}

enum class ChildMask { reset, keep };

// In a child just forked from the controller, before execve or its own
// work (async-signal-safe only): the mask emptied (a program it runs gets
// the defaults), a death signal armed, and the controller re-checked, since
// it may have died before the prctl (the child would then have been
// reparented and no death signal would come). Returns false when the
// controller is gone: the child must _exit. ChildMask::keep is for a child
// that runs no program and must outlive a signal to the controller's whole
// process group (Ctrl-C in a terminal, timeout(1)): a sentinel that only
// the controller's own cleanup may end.
inline bool child_after_fork(pid_t controller, ChildMask mask = ChildMask::reset) noexcept {
  sigset_t none;
  sigemptyset(&none);
  if (mask == ChildMask::reset) (void)::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) return false;
  return ::getppid() == controller;
}

// A helper that must not hold any of the controller's files (a uid lease's
// lock, a base's hold) once the controller is gone: closes every fd from 3 up.
inline void close_inherited_fds() noexcept { (void)::syscall(SYS_close_range, 3u, ~0u, 0u); }

}  // namespace snapcell::linux_sys
