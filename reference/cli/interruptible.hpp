#pragma once
// A session's steps as the CLI drives them, asking between steps whether the
// controller was interrupted (I9, snapcell/linux/interrupt.hpp). The wait
// itself returns at once on a signal (the supervisor polls the same fd), so
// a signal at any moment ends in the one teardown: nothing is started after
// it, and whatever was made is unwound and verified as after a deadline.

#include <utility>
#include <vector>

#include "cli/exit_codes.hpp"
#include "snapcell/linux/interrupt.hpp"
#include "snapcell/session.hpp"

namespace snapcell::cli {

// The signal that interrupted this process, 0 if none (reads what arrived).
inline int interrupted() { return linux_sys::interrupts().check(); }

// The exit code of a command a signal ended: 128 + N, as a shell reports a
// process the signal killed, so that callers need not tell the two apart.
inline int interrupted_exit(int signal) { return 128 + signal; }

// begin, setup, `before_start` (copy-in, staging), start, wait, teardown.
template <class SessionT, class BeforeStart>
Report run_interruptible(SessionT& session, BuildRequest request, BeforeStart&& before_start) {
  std::vector<Error> errors;
  if (!interrupted() && session.begin(std::move(request)) && !interrupted() && session.setup() && !interrupted()) {
    Status prepared = before_start();
    if (!prepared) errors.push_back(prepared.error());
    if (prepared && !interrupted() && session.start()) {
      (void)session.wait();
      // Read now what ended the wait: the signalfd hands out pending signals
      // lowest number first, so a SIGINT during the teardown would otherwise
      // be taken for the SIGTERM that came before it.
      (void)interrupted();
    }
  }
  Report report = session.teardown();
  report.errors.insert(report.errors.begin(), errors.begin(), errors.end());
  report.interrupted_by = interrupted();
  return report;
}

}  // namespace snapcell::cli
