// A controller killed mid-build, then reap (I6); and eight sessions at once
// on one volume group (I5).

#include <signal.h>
#include <sys/wait.h>

#include <set>

#include "guest_world.hpp"

namespace snapcell::vm {
namespace {

// The cgroup supervisor: a build whose controller dies runs on (there is
// no PID namespace to take it down), so reap has a live build to end.
void crash_then_reap(CaseContext& context) {
  int channel[2];
  if (!VM_CHECK(context, ::pipe(channel) == 0)) return;
  const pid_t controller = ::fork();
  if (controller == 0) {
    ::close(channel[0]);
    Policies<lx::CgroupSupervisor> policies(volumes_for(lx::LvmSnapshotMode::thin));
    GuestSession<lx::CgroupSupervisor> session(policies.volumes, policies.mounter, policies.supervisor,
                                               policies.journal, session_config(Millis{600'000}), next_nonce);
    if (!session.begin(request(kThinOrigin, {"/bin/sleep", "1000"})) || !session.setup() || !session.start()) ::_exit(1);
    const std::string line = session.name() + "\n";
    (void)::write(channel[1], line.data(), line.size());
    for (;;) ::pause();
  }
  ::close(channel[1]);
  char buffer[128] = {};
  const ssize_t n = ::read(channel[0], buffer, sizeof buffer - 1);
  ::close(channel[0]);
  if (!VM_CHECK_MSG(context, n > 1, "the controller started its build")) {
    ::kill(controller, SIGKILL);
    ::waitpid(controller, nullptr, 0);
    return;
  }
  const std::string name(buffer, static_cast<std::size_t>(n - 1));
  ::kill(controller, SIGKILL);
  ::waitpid(controller, nullptr, 0);
  context.note(fmt::format("controller of {} killed mid-build", name));
  VM_CHECK_MSG(context, !processes_outside_root().empty(), "the build runs on without its controller");
  VM_CHECK(context, mount_points().count(std::string(kRunDir) + "/" + name) == 1);

  Policies<lx::CgroupSupervisor> policies(volumes_for(lx::LvmSnapshotMode::thin));
  ReapReport reaped = reap_guest(policies);
  for (const auto& report : reaped.sessions) context.note(format_report(report));
  VM_CHECK(context, reaped.errors.empty());
  VM_CHECK(context, reaped.sessions.size() == 1 && reaped.sessions.front().session == name);
  for (const auto& report : reaped.sessions) VM_CHECK(context, report.clean());
  VM_CHECK(context, processes_outside_root().empty());
  auto left = policies.volumes.list(name);
  VM_CHECK(context, left && left->empty());
}

// Eight controllers, released together, each a whole session (classic and
// thin alternating); their names and mount points must all differ.
void eight_concurrent(CaseContext& context) {
  constexpr int kSessions = 8;
  int start[2], results[2];
  if (!VM_CHECK(context, ::pipe(start) == 0 && ::pipe(results) == 0)) return;
  std::vector<pid_t> children;
  for (int i = 0; i < kSessions; ++i) {
    const pid_t child = ::fork();
    if (child == 0) {
      ::close(start[1]);
      ::close(results[0]);
      char go;
      if (::read(start[0], &go, 1) != 0) ::_exit(2);  // released when the parent closes its end
      const bool thin = i % 2 == 1;
      Policies<lx::DefaultSupervisor> policies(volumes_for(thin ? lx::LvmSnapshotMode::thin : lx::LvmSnapshotMode::classic));
      GuestSession<lx::DefaultSupervisor> session(policies.volumes, policies.mounter, policies.supervisor,
                                                  policies.journal, session_config(), next_nonce);
      Report report = session.run(request(thin ? kThinOrigin : kClassicOrigin,
                                          {"/bin/sh", "-c", fmt::format("echo {} > /artifact && sleep 1", i)}));
      const bool ok = report.clean() && report.errors.empty() && report.build && report.build->exit_code == 0;
      const std::string line = fmt::format("{} {} {}\n", report.session, session.plan().mount_point, ok ? "ok" : "FAILED");
      (void)::write(results[1], line.data(), line.size());  // < PIPE_BUF: atomic
      if (!ok) fmt::print("{}", format_report(report));
      ::_exit(ok ? 0 : 1);
    }
    children.push_back(child);
  }
  ::close(start[0]);
  ::close(results[1]);
  ::close(start[1]);  // go
  int failed = 0;
  for (pid_t child : children) {
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
  }
  std::string text;
  char buffer[512];
  for (ssize_t n; (n = ::read(results[0], buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<std::size_t>(n));
  ::close(results[0]);
  context.note("sessions:\n" + text);
  std::set<std::string> names, points;
  std::istringstream lines(text);
  for (std::string name, point, verdict; lines >> name >> point >> verdict;) {
    names.insert(name);
    points.insert(point);
  }
  VM_CHECK(context, failed == 0);
  VM_CHECK_MSG(context, names.size() == kSessions, "I5: eight distinct names");
  VM_CHECK_MSG(context, points.size() == kSessions, "I5: eight distinct mount points");
}

const Register crash(400, "controller-crash-then-reap", crash_then_reap);
const Register concurrent(410, "eight-concurrent-sessions", eight_concurrent);

}  // namespace
}  // namespace snapcell::vm
