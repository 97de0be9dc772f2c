// Leftover-scan cost against the number of processes on the machine: the
// /proc walks that a weak (process group) or PID-namespace supervisor makes
// to list a unit's members, and the holders() walk the mounter makes before
// a forced unmount. K idle processes of the benchmark's own are added to
// what the machine runs; they die with it (PR_SET_PDEATHSIG) or are killed
// through their pidfds at the end.

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "benchmarks.hpp"
#include "lab.hpp"
#include "snapcell/linux/proc_scan.hpp"
#include "snapcell/linux/process_table.hpp"
#include "snapcell/linux/syscall_mounter.hpp"

namespace snapcell::bench {

namespace {

// Children that only wait to be killed.
class IdleProcesses {
 public:
  explicit IdleProcesses(int count) {
    const pid_t parent = ::getpid();
    for (int i = 0; i < count; ++i) {
      const pid_t pid = ::fork();
      if (pid < 0) throw Failure(errno_error("fork", "idle process"));
      if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(0);
        for (;;) ::pause();
      }
      auto pidfd = linux_sys::pidfd_open(pid);
      if (!pidfd) throw Failure(pidfd.error());
      children_.push_back(std::move(*pidfd));
    }
  }
  IdleProcesses(const IdleProcesses&) = delete;
  IdleProcesses& operator=(const IdleProcesses&) = delete;
  ~IdleProcesses() {
    for (const auto& child : children_) (void)linux_sys::pidfd_send_signal(child, SIGKILL);
    for (const auto& child : children_) (void)::waitpid(child.pid, nullptr, 0);
  }

 private:
  std::vector<linux_sys::PidFd> children_;
};

enum class Scan { process_group, pid_namespace, mount_holders };

void scan_benchmark(benchmark::State& state, Scan scan) {
  IdleProcesses idle(static_cast<int>(state.range(0)));
  auto pids = linux_sys::list_pids();
  if (!pids) return state.SkipWithError(pids.error().message().c_str());
  // Targets nothing on the machine is in: the scan must read every process.
  auto root = linux_sys::stat_path(lab().process_root());
  if (!root) return state.SkipWithError(root.error().message().c_str());
  linux_sys::SyscallMounter mounter;
  for (auto _ : state) {
    Status done;
    if (scan == Scan::process_group) {
      auto found = linux_sys::scan_processes(linux_sys::fact_root, [](const ProcessFacts& f) { return f.pgid == -1; });
      done = found.status();
    } else if (scan == Scan::pid_namespace) {
      auto found = linux_sys::scan_processes(linux_sys::fact_pid_namespace,
                                             [](const ProcessFacts& f) { return f.pid_namespace == 1; });
      done = found.status();
    } else {
      auto found = mounter.holders(root->st_dev);
      done = found.status();
    }
    if (!done) {
      state.SkipWithError(done.error().message().c_str());
      break;
    }
  }
  state.counters["processes"] = static_cast<double>(pids->size());
}

}  // namespace

void register_scan_benchmarks() {
  const std::vector<int> extra = tiny() ? std::vector<int>{0, 10} : std::vector<int>{0, 100, 1000};
  const std::pair<const char*, Scan> scans[] = {{"scan/process-group", Scan::process_group},
                                                {"scan/pid-namespace", Scan::pid_namespace},
                                                {"scan/mount-holders", Scan::mount_holders}};
  for (const auto& [name, scan] : scans) {
    auto* b = benchmark::RegisterBenchmark(name, scan_benchmark, scan);
    for (int k : extra) b->Arg(k);
    b->ArgName("extra_processes")->Unit(benchmark::kMillisecond);
    if (tiny()) b->Iterations(1);
  }
}

}  // namespace snapcell::bench
