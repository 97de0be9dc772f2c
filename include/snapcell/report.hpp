#pragma once
// What a teardown (or reap) did, what failed, and what remains. The report is
// the session's account; the invariant checks never trust it, they compare it
// with the world, and I3 demands that it names exactly what is left.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/policies.hpp"

namespace snapcell {

enum class ResourceKind { process, unit, mount, mount_point, volume, journal };

inline std::string_view to_string(ResourceKind kind) {
  switch (kind) {
    case ResourceKind::process: return "process";
    case ResourceKind::unit: return "unit";
    case ResourceKind::mount: return "mount";
    case ResourceKind::mount_point: return "mount point";
    case ResourceKind::volume: return "volume";
    case ResourceKind::journal: return "journal record";
  }
  return "?";
}

enum class Outcome {
  done,     // the step acted and its effect was verified
  absent,   // nothing to do: the resource does not exist (never made, or already gone)
  refused,  // a guard did not prove the target is the session's own: left alone
  failed,   // the step acted and the system said no
};

inline std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::done: return "done";
    case Outcome::absent: return "absent";
    case Outcome::refused: return "refused";
    case Outcome::failed: return "failed";
  }
  return "?";
}

struct StepResult {
  std::string step;
  std::string target;
  Outcome outcome = Outcome::done;
  std::string detail;
};

struct Remains {
  ResourceKind kind;
  std::string target;
  std::string why;
};

struct Report {
  std::string session;
  std::vector<StepResult> steps;
  std::vector<Remains> remains;
  std::vector<Error> errors;        // setup or run failures before teardown
  std::optional<WaitOutcome> build; // how the command ended, when it ran
  bool containment_proven = false;  // false for weak supervisors: survivors may be invisible
  bool lazily_detached = false;
  int interrupted_by = 0;           // the signal that ended the session early (I9); 0: none
  std::vector<std::pair<std::string, double>> phase_ms;

  bool clean() const { return remains.empty(); }

  // How long the build's command existed: from its spawn to the proof its
  // processes are gone (the session's spawn, build and stop phases). What a
  // deadline and grace bound; the snapshot before and the teardown after
  // are the backend's time. Empty when the command never spawned.
  std::optional<double> command_ms() const {
    std::optional<double> total;
    for (const auto& [name, ms] : phase_ms)
      if (name == "spawn" || name == "build" || name == "stop") total = total.value_or(0) + ms;
    return total;
  }

  void add(std::string step, std::string target, Outcome outcome, std::string detail = {}) {
    steps.push_back({std::move(step), std::move(target), outcome, std::move(detail)});
  }
  void remain(ResourceKind kind, std::string target, std::string why) {
    remains.push_back({kind, std::move(target), std::move(why)});
  }
  // Adds to the time of a phase, summing repeats (three kill attempts are one "kill").
  void add_ms(const std::string& phase, double ms) {
    for (auto& [name, total] : phase_ms)
      if (name == phase) {
        total += ms;
        return;
      }
    phase_ms.emplace_back(phase, ms);
  }
};

// Times one call into a report's phase_ms: where a teardown's time goes
// (kill, verify, unmount, remove) is what a turnaround is made of.
template <class Call>
auto timed(Report& report, const std::string& phase, Call&& call) {
  const auto start = std::chrono::steady_clock::now();
  struct Stop {
    Report& report;
    const std::string& phase;
    std::chrono::steady_clock::time_point start;
    ~Stop() {
      report.add_ms(phase, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
  } stop{report, phase, start};
  return call();
}

inline std::string format_report(const Report& report) {
  std::string text = fmt::format("session {}: {}\n", report.session, report.clean() ? "clean" : "LEFT RESOURCES");
  if (report.build)
    text += report.build->timed_out     ? "  build: killed at its deadline\n"
            : report.build->interrupted ? "  build: killed when snapcell was interrupted\n"
                                        : fmt::format("  build: exited with {}\n", report.build->exit_code);
  if (report.interrupted_by != 0)
    text += fmt::format("  interrupted by signal {}: torn down as at a deadline\n", report.interrupted_by);
  for (const auto& error : report.errors) text += fmt::format("  error: {}\n", error.message());
  for (const auto& step : report.steps)
    text += fmt::format("  {:<14} {:<8} {}{}{}\n", step.step, to_string(step.outcome), step.target,
                        step.detail.empty() ? "" : ": ", step.detail);
  for (const auto& left : report.remains)
    text += fmt::format("  remains {} {}: {}\n", to_string(left.kind), left.target, left.why);
  if (!report.containment_proven) text += "  containment: not proven (weak supervisor, or unit unknown)\n";
  return text;
}

}  // namespace snapcell
