// Kill latency: a build that leaves N processes behind (half of them daemons
// that called setsid, as daemons do), per supervisor, timed from kill_all to
// the supervisor's "no survivors". The session supervisor cannot see the
// setsid half: what it leaves alive is counted (left_alive), then killed by
// the benchmark itself, never hidden.

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "benchmarks.hpp"
#include "lab.hpp"
#include "snapcell/linux/proc_scan.hpp"
#include "snapcell/linux/process_table.hpp"
#include "snapcell/linux/supervisors.hpp"

namespace snapcell::bench {

namespace {

using Clock = std::chrono::steady_clock;

std::string leaver_script(int leftovers) {
  return fmt::format(
      "i=0; while [ $i -lt {} ]; do "
      "if [ $((i % 2)) -eq 1 ]; then setsid sleep 1000 & else sleep 1000 & fi; i=$((i + 1)); "
      "done; sleep 0.2; echo ready; exec sleep 1000",  // the pause: a setsid child may not have called it yet
      leftovers);
}

bool wait_for_ready(const std::string& log) {
  const auto until = Clock::now() + std::chrono::seconds(120);
  while (Clock::now() < until) {
    auto text = linux_sys::read_file(log);
    if (text && text->find("ready") != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

// Processes whose root is on the lab's process root: the benchmark's own.
Result<std::vector<Pid>> processes_rooted_on(DeviceId device) {
  return linux_sys::scan_processes(linux_sys::fact_root,
                                   [device](const ProcessFacts& facts) { return facts.root_device == device; });
}

// Kills (through pidfds, re-checking the root) what escaped the supervisor,
// and waits until none is left; returns how many there were.
Result<std::size_t> kill_escapees(DeviceId device) {
  auto first = processes_rooted_on(device);
  if (!first) return first.error();
  linux_sys::LinuxProcessTable table;
  const auto ours = [device](const ProcessFacts& facts) { return facts.root_device == device; };
  const auto until = Clock::now() + std::chrono::seconds(30);
  for (auto left = *first; !left.empty();) {
    if (Clock::now() > until) return logic_error("kill escapees", std::to_string(left.size()), "still alive after 30 s");
    (void)signal_members(table, left, SIGKILL, ours);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    auto again = processes_rooted_on(device);
    if (!again) return again.error();
    left = std::move(*again);
  }
  return first->size();
}

template <class S>
void kill_benchmark(benchmark::State& state) {
  const int leftovers = static_cast<int>(state.range(0));
  const std::string& root = lab().process_root();
  auto root_st = linux_sys::stat_path(root);
  if (!root_st) return state.SkipWithError(root_st.error().message().c_str());
  S supervisor(lab().supervisor_config());
  SpawnSpec spec{root, {"/bin/sh", "-c", leaver_script(leftovers)}, {}, {}, {}};
  spec.limits.max_processes = leftovers + 64;
  double left_alive = 0;
  int runs = 0;
  for (auto _ : state) {
    const std::string name = fmt::format("snapcell-bench-kill-{:016x}", random_nonce());
    spec.log_path = lab().logs_dir() + "/" + name + ".log";
    std::optional<typename S::Unit> unit = supervisor.unit_for(name);
    std::string problem;
    if (Status spawned = supervisor.spawn(*unit, spec); !spawned) problem = spawned.error().message();
    else if (Status launched = supervisor.launch(*unit); !launched) problem = launched.error().message();
    else if (!wait_for_ready(spec.log_path)) problem = "the build did not report ready in 120 s";

    const auto start = Clock::now();
    Status killed = problem.empty() ? supervisor.kill_all(*unit, Millis{2'000}) : Status{};
    auto survivors = supervisor.survivors(*unit);
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());

    if (problem.empty() && !killed) problem = killed.error().message();
    if (problem.empty() && !survivors) problem = survivors.error().message();
    if (problem.empty() && !survivors->empty()) problem = fmt::format("{} survivors listed after the kill", survivors->size());
    auto escaped = kill_escapees(root_st->st_dev);
    if (!escaped) problem = escaped.error().message();
    else left_alive += static_cast<double>(*escaped);
    (void)supervisor.kill_all(*unit, Millis{0});
    if (Status released = supervisor.release(*unit); !released && problem.empty()) problem = released.error().message();
    (void)::unlink(spec.log_path.c_str());
    ++runs;
    if (!problem.empty()) {
      state.SkipWithError(problem.c_str());
      break;
    }
  }
  // Alive after the supervisor said "no survivors": 0 for a full containment.
  state.counters["left_alive"] = runs ? left_alive / runs : 0;
  state.counters["leftovers"] = leftovers;
}

template <class S>
void register_kill(int leftovers) {
  const std::string name = fmt::format("kill/{}/{}", S::kind, leftovers);
  auto* b = benchmark::RegisterBenchmark(name.c_str(), kill_benchmark<S>)->Arg(leftovers);
  b->UseManualTime()->Unit(benchmark::kMillisecond);
  b->Iterations(tiny() ? 1 : leftovers >= 100 ? 3 : 10);
}

}  // namespace

void register_kill_benchmarks() {
  for (int leftovers : tiny() ? std::vector<int>{1, 10} : std::vector<int>{1, 10, 100, 1000}) {
    register_kill<linux_sys::DefaultSupervisor>(leftovers);
    register_kill<linux_sys::CgroupSupervisor>(leftovers);
    register_kill<linux_sys::PidNamespaceSupervisor>(leftovers);
    register_kill<linux_sys::SessionSupervisor>(leftovers);
  }
}

}  // namespace snapcell::bench
