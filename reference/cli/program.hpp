#pragma once
// Runs a helper program (debootstrap, for one) in a process group of its
// own, its output read line by line, and ends the whole group when the user
// interrupts snapcell (I9: the signal is read from interrupt.hpp's signalfd,
// polled beside the output): TERM to the group, and KILL if it has not gone
// after a grace. The group's leader is held unreaped (waitid WNOWAIT) while
// the group is killed, so its id cannot have been reused by then. The
// program dies with snapcell too (a death signal armed in the child).

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/interruptible.hpp"
#include "snapcell/error.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/linux/interrupt.hpp"
#include "snapcell/linux/sys.hpp"

namespace snapcell::cli {

struct ProgramExit {
  int code = 0;  // exit status, or 128 + signal
  bool interrupted = false;
};

// How long an interrupted program's group has between TERM and KILL.
inline constexpr std::chrono::milliseconds program_grace{5'000};

// Runs argv (PATH lookup, never a shell) with stdin on /dev/null and stdout
// and stderr merged into `on_line`, one call per line.
inline Result<ProgramExit> run_program_lines(const std::vector<std::string>& argv,
                                             const std::function<void(const std::string&)>& on_line) {
  if (argv.empty()) return logic_error("run program", "", "empty argv");
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  auto null_fd = linux_sys::open_fd("/dev/null", O_RDONLY);
  if (!null_fd) return null_fd.error();
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return errno_error("pipe2", argv.front());
  linux_sys::UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);

  // Orphans of the program (debootstrap's extractors) are reparented to us,
  // so they can be reaped, and waited for, below.
  (void)::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  const pid_t controller = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return errno_error("fork", argv.front());
  if (pid == 0) {  // async-signal-safe calls only until exec
    if (!linux_sys::child_after_fork(controller)) ::_exit(127);
    ::setpgid(0, 0);
    ::dup2(null_fd->get(), STDIN_FILENO);
    ::dup2(write_end.get(), STDOUT_FILENO);
    ::dup2(write_end.get(), STDERR_FILENO);
    linux_sys::close_inherited_fds();  // the base store's locks, the journal: not the program's
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // both sides: whichever runs first
  write_end.reset();

  bool interrupted_here = false;
  std::chrono::steady_clock::time_point kill_at{};
  std::string pending;
  char buffer[4096];
  for (;;) {
    const bool signalled = interrupted() != 0;  // every time: a later signal is read too, or poll would spin
    if (!interrupted_here && signalled) {
      interrupted_here = true;
      (void)::killpg(pid, SIGTERM);  // the leader is our unreaped child: its group id is still its
      kill_at = std::chrono::steady_clock::now() + program_grace;
    }
    if (interrupted_here && std::chrono::steady_clock::now() >= kill_at) (void)::killpg(pid, SIGKILL);
    pollfd fds[2] = {{read_end.get(), POLLIN, 0}, {linux_sys::interrupts().fd(), POLLIN, 0}};
    const int wait_ms = interrupted_here ? 100 : -1;
    if (::poll(fds, linux_sys::interrupts().fd() >= 0 ? 2 : 1, wait_ms) < 0 && errno != EINTR)
      return errno_error("poll", argv.front());
    if (fds[0].revents == 0) continue;
    const ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer, static_cast<std::size_t>(n));
    for (std::size_t end; (end = pending.find('\n')) != std::string::npos;) {
      on_line(pending.substr(0, end));
      pending.erase(0, end + 1);
    }
  }
  if (!pending.empty()) on_line(pending);

  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
  }
  // Whatever the program left in its group (a helper it started, still
  // writing) ends with it, and is reaped here (we are its subreaper) before
  // anyone looks at what it wrote: SIGKILL is delivered, not waited for.
  (void)::killpg(pid, SIGKILL);
  int status = 0;
  (void)linux_sys::retry_eintr([&] { return ::waitpid(pid, &status, 0); });
  for (int member_status = 0; linux_sys::retry_eintr([&] { return ::waitpid(-pid, &member_status, 0); }) > 0;) {
  }
  ProgramExit exit;
  exit.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  exit.interrupted = interrupted_here || interrupted() != 0;
  return exit;
}

}  // namespace snapcell::cli
