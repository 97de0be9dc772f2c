#pragma once
// `snapcell build`'s report: text for people, JSON (schema snapcell.build/1)
// for build farms. Stable: fields are only ever added.
//
// {
//   "schema": "snapcell.build/1",
//   "outcome": "built|build_failed|sandbox_failed|interrupted", "exit_code": 0|1|3|128+N,
//   "signal": "SIGINT" or null (what interrupted snapcell: torn down as at the deadline),
//   "session": "snapcell-0123456789abcdef",
//   "sdist": {"path", "project", "version", "members", "bytes"},
//   "base": {"name": "bookworm-py" or "", "root", "creation_seconds": 152.3 or null},
//   "backend", "supervisor",
//   "uid": 1000 (as the build sees itself), "host_uid": 3200001000 (the same uid as the host sees it),
//   "user_namespace": {"first_host_id", "count"} (its own, leased), or null (--userns host),
//   "build": {"ran", "timed_out", "exit_code"},
//   "wheels": [{"file", "sha256", "bytes"}], "refused_outputs": ["name: why"],
//   "missing_requirements": [{"requirement": "setuptools-scm>=8", "why": "base has none"}],
//   "left_behind": processes alive when the backend had returned, or null,
//   "reason": one line: why the build failed ("" when built),
//   "log": "/path/to/build.log", "log_dropped_bytes": what went past --log-cap (0: nothing),
//   "phases_ms": {"validate", "claim", "mkdir", "snapshot", "mount", "prove", "stage", "spawn", "build",
//                 "kill", "verify", "release", "collect", "unmount", "rmdir", "remove", "teardown"},
//   "turnaround_ms": everything but the build itself,
//   "cleanup": {"processes_left": 0, "mounts_left": 0, "cgroups_left": 0, "network_namespaces_left": 0,
//               "volume_removed": true, "sentinel_alive": true, "containment_proven": true},
//   "steps": [...], "remains": [...], "errors": [...], "limits": {...}   (as in snapcell.report/1)
// }

#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "archive/inspect.hpp"
#include "cli/build_proof.hpp"
#include "cli/driver_reports.hpp"
#include "cli/exit_codes.hpp"
#include "cli/json_report.hpp"
#include "cli/wheel_out.hpp"
#include "snapcell/linux/interrupt.hpp"
#include "snapcell/report.hpp"

namespace snapcell::cli {

struct BuildResult {
  std::string sdist_path;
  archive::SdistFacts sdist;
  std::string base_name;
  std::string base_root;
  std::optional<double> base_creation_seconds;
  std::string backend, supervisor;
  std::optional<SandboxLimits> limits;  // empty when the build never got as far as its policies
  std::uint32_t uid = 0;       // as the build sees itself
  std::uint32_t host_uid = 0;  // as the host sees it
  IdRange user_namespace;      // count 0: the host's
  Report report;
  Collected outputs;
  DriverReports driver;  // what the build driver said from inside: missing requirements, leftovers
  std::string log;
  std::uint64_t log_dropped_bytes = 0;
  CleanupProof cleanup;
  std::vector<Error> errors;  // the builder's own (staging, collecting), besides the session's

  int exit_code() const {
    if (report.interrupted_by != 0) return 128 + report.interrupted_by;
    if (!report.clean() || !cleanup.holds() || (!report.build && !errors.empty()) ||
        (!report.build && !report.errors.empty()))
      return exit_sandbox_failed;
    if (!report.build || report.build->timed_out || report.build->exit_code != 0 || outputs.wheels.empty())
      return exit_build_failed;
    return exit_ok;
  }
  std::string outcome() const {
    switch (exit_code()) {
      case exit_ok: return "built";
      case exit_build_failed: return "build_failed";
      case exit_sandbox_failed: return "sandbox_failed";
      default: return "interrupted";
    }
  }
  // One line for a person and a farm's summary: why it did not build.
  std::string reason() const {
    switch (exit_code()) {
      case exit_ok: return "";
      case exit_build_failed:
        if (const auto& missing = driver.missing_requirements; !missing.empty()) {
          std::string text = missing.front().line();
          if (missing.size() > 1) text += fmt::format(" and {} more", missing.size() - 1);
          return text;
        }
        if (driver.left_behind) return fmt::format("left {} process(es) behind after the backend returned", *driver.left_behind);
        if (!report.build) return "the build did not run";
        if (report.build->timed_out) return "killed at its deadline";
        if (report.build->exit_code != 0) return fmt::format("the build exited with {} (see the log)", report.build->exit_code);
        if (!outputs.refused.empty()) return fmt::format("wheel refused: {}", outputs.refused.front());
        return "the build made no wheel";
      default:
        if (!report.errors.empty()) return one_line(report.errors.front().message());
        if (!errors.empty()) return one_line(errors.front().message());
        if (!report.remains.empty()) return fmt::format("left {} {}", to_string(report.remains.front().kind), report.remains.front().target);
        return "the cleanup proof does not hold";
    }
  }
  double turnaround_ms() const {
    double total = 0;
    for (const auto& [phase, ms] : report.phase_ms)
      if (phase != "build" && phase != "teardown") total += ms;  // teardown's parts are counted one by one
    return total;
  }
};

inline nlohmann::ordered_json build_to_json(const BuildResult& result) {
  nlohmann::ordered_json json;
  json["schema"] = "snapcell.build/1";
  json["outcome"] = result.outcome();
  json["exit_code"] = result.exit_code();
  json["signal"] = result.report.interrupted_by
                       ? nlohmann::ordered_json(linux_sys::signal_name(result.report.interrupted_by))
                       : nlohmann::ordered_json();
  json["session"] = result.report.session;
  json["sdist"] = {{"path", result.sdist_path},
                   {"project", result.sdist.project},
                   {"version", result.sdist.version},
                   {"members", result.sdist.member_count},
                   {"bytes", result.sdist.total_bytes}};
  json["base"] = {{"name", result.base_name}, {"root", result.base_root}};
  json["base"]["creation_seconds"] =
      result.base_creation_seconds ? nlohmann::ordered_json(*result.base_creation_seconds) : nlohmann::ordered_json();
  json["backend"] = result.backend;
  json["supervisor"] = result.supervisor;
  json["uid"] = result.uid;
  json["host_uid"] = result.host_uid;
  json["user_namespace"] = user_namespace_json(result.user_namespace);
  const auto session = report_to_json(result.report, result.backend, result.supervisor, result.limits);
  json["build"] = session["build"];
  json["wheels"] = nlohmann::ordered_json::array();
  for (const auto& wheel : result.outputs.wheels)
    json["wheels"].push_back({{"file", wheel.file}, {"sha256", wheel.sha256}, {"bytes", wheel.bytes}});
  json["refused_outputs"] = result.outputs.refused;
  json["missing_requirements"] = nlohmann::ordered_json::array();
  for (const auto& missing : result.driver.missing_requirements)
    json["missing_requirements"].push_back({{"requirement", missing.requirement}, {"why", missing.why}});
  json["left_behind"] = result.driver.left_behind ? nlohmann::ordered_json(*result.driver.left_behind)
                                                  : nlohmann::ordered_json();
  json["reason"] = result.reason();
  json["log"] = result.log;
  json["log_dropped_bytes"] = result.log_dropped_bytes;
  json["phases_ms"] = session["phases_ms"];
  json["turnaround_ms"] = result.turnaround_ms();
  const CleanupProof& proof = result.cleanup;
  json["cleanup"] = {{"processes_left", proof.processes_left},
                     {"mounts_left", proof.mounts_left},
                     {"cgroups_left", proof.cgroups_left},
                     {"network_namespaces_left", proof.network_namespaces_left},
                     {"volume_removed", proof.volume_removed},
                     {"sentinel_alive", proof.sentinel_alive},
                     {"containment_proven", result.report.containment_proven}};
  json["steps"] = session["steps"];
  json["remains"] = session["remains"];
  json["errors"] = session["errors"];
  for (const auto& error : result.errors) json["errors"].push_back(error.message());
  if (session.contains("limits")) json["limits"] = session["limits"];
  return json;
}

inline std::string build_to_text(const BuildResult& result) {
  std::string text = fmt::format("{} {}-{}: {}", result.report.session, result.sdist.project, result.sdist.version,
                                 result.outcome());
  if (result.report.interrupted_by)
    text += fmt::format(" ({}: torn down as at its deadline)", linux_sys::signal_name(result.report.interrupted_by));
  else if (result.report.build)
    text += result.report.build->timed_out ? " (killed at its deadline)"
                                           : fmt::format(" (build exited with {})", result.report.build->exit_code);
  text += "\n";
  for (const auto& wheel : result.outputs.wheels)
    text += fmt::format("  wheel    {} sha256 {} ({} bytes)\n", wheel.file, wheel.sha256, wheel.bytes);
  for (const auto& refused : result.outputs.refused) text += fmt::format("  refused  {}\n", refused);
  for (const auto& missing : result.driver.missing_requirements) text += fmt::format("  missing  {}\n", missing.line());
  if (const std::string why = result.reason(); !why.empty()) text += fmt::format("  reason   {}\n", why);
  text += fmt::format("  log      {}{}\n", result.log,
                      result.log_dropped_bytes ? fmt::format(" ({} bytes past --log-cap dropped)", result.log_dropped_bytes)
                                               : std::string());
  text += result.user_namespace.count > 0
              ? fmt::format("  identity uid {} of its own user namespace (host uid {}, host ids {})\n", result.uid,
                            result.host_uid, host_id_span(result.user_namespace))
              : fmt::format("  identity uid {} of the host's user namespace (--userns host)\n", result.uid);
  const CleanupProof& proof = result.cleanup;
  text += fmt::format(
      "  cleanup  processes left {}, mounts left {}, cgroups left {}, network namespaces left {}, volume removed {}, "
      "sentinel alive {}, containment {}\n",
      proof.processes_left, proof.mounts_left, proof.cgroups_left, proof.network_namespaces_left,
      proof.volume_removed ? "yes" : "NO", proof.sentinel_alive ? "yes" : "NO",
      result.report.containment_proven ? "proven" : "not proven (weak supervisor)");
  std::string phases;
  for (const auto& [phase, ms] : result.report.phase_ms) phases += fmt::format(" {} {:.1f}", phase, ms);
  text += fmt::format("  phases (ms){}\n", phases);
  text += fmt::format("  turnaround {:.1f} ms without the build", result.turnaround_ms());
  if (result.base_creation_seconds)
    text += fmt::format(" (the base took {:.1f} s to create: {:.0f}x)", *result.base_creation_seconds,
                        *result.base_creation_seconds * 1000 / std::max(result.turnaround_ms(), 0.001));
  text += "\n";
  for (const auto& error : result.report.errors) text += fmt::format("  error    {}\n", one_line(error.message()));
  for (const auto& error : result.errors) text += fmt::format("  error    {}\n", one_line(error.message()));
  for (const auto& left : result.report.remains)
    text += fmt::format("  remains  {} {}: {}\n", to_string(left.kind), left.target, left.why);
  return text;
}

}  // namespace snapcell::cli
