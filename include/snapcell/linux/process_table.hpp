#pragma once
// The real ProcessTable (signal.hpp): a process is named by a pidfd, which
// pins its identity; its facts are read from /proc and then confirmed to
// belong to the pinned process; signals go through the pidfd only. There is
// no kill(pid, sig) here, by design: real code never signals a bare PID.

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <string>

#include "snapcell/error.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/linux/proc_scan.hpp"
#include "snapcell/signal.hpp"

namespace snapcell::linux_sys {

// A pidfd and the pid it was opened for (the pid names the /proc directory
// to read; the fd is what decides whether that reading is still about the
// same process). Move-only: one owner closes the fd.
struct PidFd {
  Pid pid = 0;
  UniqueFd fd;

  bool valid() const noexcept { return pid > 0 && fd.valid(); }
};

inline Result<PidFd> pidfd_open(Pid pid) {
  if (pid <= 0) return logic_error("pidfd_open", std::to_string(pid), "not a positive pid");
  const long fd = ::syscall(SYS_pidfd_open, pid, 0u);
  if (fd < 0) return errno_error("pidfd_open", std::to_string(pid));
  return PidFd{pid, UniqueFd(static_cast<int>(fd))};
}

inline Status pidfd_send_signal(const PidFd& process, int signal) {
  if (!process.valid()) return errno_error("pidfd_send_signal", std::to_string(process.pid), EBADF);
  const long rc = retry_eintr([&] { return ::syscall(SYS_pidfd_send_signal, process.fd.get(), signal, nullptr, 0u); });
  if (rc != 0) return errno_error("pidfd_send_signal", std::to_string(process.pid));
  return {};
}

// Signal 0 delivers nothing but checks that the pinned process still exists
// (a zombie does, until it is reaped).
inline Status pidfd_alive(const PidFd& process) { return pidfd_send_signal(process, 0); }

class LinuxProcessTable {
 public:
  using Handle = PidFd;

  Result<Handle> open(Pid pid) { return pidfd_open(pid); }

  // /proc/PID is looked up by number, so what it shows may belong to another
  // process than the one the pidfd pins: the pinned one may have died and
  // been reaped, and its PID handed to a newcomer, between pidfd_open and
  // the reads. The pidfd tells: a PID is reused only after its process is
  // reaped, and a pidfd's process stays "alive" to pidfd_send_signal until
  // exactly then. So the reads come first and the liveness check after them:
  // if the pinned process is still there once every fact is read, the PID
  // was not reused meanwhile and the facts are its own. (The other order
  // would leave the window open between the check and the reads.)
  Result<ProcessFacts> inspect(const Handle& handle) {
    auto facts = read_process_facts(handle.pid, fact_all);
    if (Status alive = pidfd_alive(handle); !alive) {
      return errno_error("inspect", std::to_string(handle.pid), alive.code());
    }
    return facts;
  }

  Status send(const Handle& handle, int signal) { return pidfd_send_signal(handle, signal); }
};

static_assert(ProcessTable<LinuxProcessTable>);

}  // namespace snapcell::linux_sys
