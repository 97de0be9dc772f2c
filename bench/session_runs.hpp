#pragma once
// One Session on the real kernel, as the CLI assembles it (reference/cli/
// policies.hpp), with the lab's state dirs: the unit every turnaround
// benchmark times. Every backend and supervisor is one type, so a benchmark
// is a template over both.

#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <vector>

#include "lab.hpp"
#include "snapcell/linux/btrfs_volumes.hpp"
#include "snapcell/linux/copy_volumes.hpp"
#include "snapcell/linux/directory_journal.hpp"
#include "snapcell/linux/overlay_volumes.hpp"
#include "snapcell/linux/supervisors.hpp"
#include "snapcell/linux/syscall_mounter.hpp"
#include "snapcell/session.hpp"

namespace snapcell::bench {

// The volume manager of a backend, on the lab's scratch dirs, and its base.
template <class V>
struct Backend;

template <>
struct Backend<linux_sys::OverlayVolumes> {
  static constexpr const char* name = "overlay";
  static linux_sys::OverlayVolumes make() { return linux_sys::OverlayVolumes(lab().volumes_dir()); }
  static const std::string& base(unsigned mib) { return lab().directory_base(mib); }
};
template <>
struct Backend<linux_sys::BtrfsVolumes> {
  static constexpr const char* name = "btrfs";
  static linux_sys::BtrfsVolumes make() { return linux_sys::BtrfsVolumes(lab().btrfs_snapshot_dir()); }
  static const std::string& base(unsigned mib) { return lab().btrfs_base(mib); }
};
template <>
struct Backend<linux_sys::CopyVolumes> {
  static constexpr const char* name = "copy";
  static linux_sys::CopyVolumes make() { return linux_sys::CopyVolumes(lab().volumes_dir()); }
  static const std::string& base(unsigned mib) { return lab().directory_base(mib); }
};

inline SessionConfig session_config(bool verify) {
  SessionConfig config;
  config.prefix = "snapcell-bench";
  config.run_dir = lab().run_dir();
  config.deadline = Millis{60'000};
  config.verify = verify;
  return config;
}

// A report that is not a clean, successful run of the command fails the
// benchmark: a turnaround that leaked or failed is not a figure.
inline std::string problem_of(const Report& report, int expected_exit = 0) {
  if (!report.errors.empty()) return report.errors.front().message();
  if (!report.clean()) return format_report(report);
  if (!report.build) return "the command did not run";
  if (report.build->timed_out || report.build->exit_code != expected_exit)
    return fmt::format("the command ended with {}", report.build->exit_code);
  return {};
}

// Per-phase milliseconds summed over iterations; reported as per-iteration
// counters named ms_<phase> (the phase breakdown).
struct PhaseTotals {
  std::map<std::string, double> ms;
  void add(const Report& report) {
    for (const auto& [phase, value] : report.phase_ms) ms[phase] += value;
  }
  void publish(benchmark::State& state) const {
    for (const auto& [phase, value] : ms)
      state.counters["ms_" + phase] = benchmark::Counter(value, benchmark::Counter::kAvgIterations);
  }
};

// snapshot + mount + spawn argv + wait + kill-all + verify + unmount + remove,
// `state` iterations of it.
template <class V, class S>
void run_turnarounds(benchmark::State& state, const std::string& origin, bool verify,
                     const std::vector<std::string>& argv = {"/bin/true"}) {
  V volumes = Backend<V>::make();
  linux_sys::SyscallMounter mounter;
  linux_sys::DirectoryJournal journal(lab().journal_dir());
  S supervisor(lab().supervisor_config());
  PhaseTotals phases;
  for (auto _ : state) {
    Session session(volumes, mounter, supervisor, journal, session_config(verify), random_nonce);
    Report report = session.run({.origin = origin, .argv = argv, .log_path = {}, .isolation = {}});
    if (std::string problem = problem_of(report); !problem.empty()) {
      state.SkipWithError(problem.c_str());
      break;
    }
    phases.add(report);
  }
  phases.publish(state);
}

}  // namespace snapcell::bench
