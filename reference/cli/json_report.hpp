#pragma once
// The machine-readable report, schema "snapcell.report/1". Stable: fields are
// only ever added. Documented in docs/snapcell.1 (JSON OUTPUT) and docs/cli.md.
//
// {
//   "schema": "snapcell.report/1",
//   "session": "snapcell-0123456789abcdef",     // "" when no name was claimed
//   "backend": "overlay", "supervisor": "default",
//   "clean": true,                               // nothing of the session remains
//   "containment_proven": true,                  // false for the weak supervisor
//   "lazily_detached": false,
//   "build": {"ran": true, "timed_out": false, "exit_code": 0, "interrupted": false},
//   "outcome": "exited|timed_out|not_run|interrupted",
//   "signal": "SIGINT" or null,                  // what interrupted snapcell (exit 128 + N)
//   "phases_ms": {"validate": 0.01, "claim": 0.1, "mkdir": ..., "snapshot": ..., "mount": ...,
//                 "prove": ..., "spawn": ..., "build": ..., "teardown": ...},
//   "steps": [{"step": "kill", "target": "...", "outcome": "done|absent|refused|failed", "detail": "..."}],
//   "remains": [{"kind": "process|unit|mount|mount point|volume|journal record", "target": "...", "why": "..."}],
//   "errors": ["operation(target): errno text: detail"],
//   "limits": {"max_processes": 256, "max_memory_bytes": 1073741824,
//              "capped": true (both caps are session totals, held by a cgroup),
//              "processes_by": "the session's cgroup (pids.max)", "memory_by": "...",
//              "max_disk_bytes": 1073741824 or null, "disk_by": "the layers' tmpfs"}
// }

#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/limit_options.hpp"
#include "snapcell/linux/interrupt.hpp"
#include "snapcell/report.hpp"

namespace snapcell::cli {

inline constexpr const char* report_schema = "snapcell.report/1";

// A user namespace's host ids as the text reports show them: "first-last".
inline std::string host_id_span(const IdRange& range) {
  return fmt::format("{}-{}", range.first, std::uint64_t{range.first} + range.count - 1);
}

// Whose user namespace a command ran in, for the reports: null for the host's.
inline nlohmann::ordered_json user_namespace_json(const IdRange& range) {
  if (range.count == 0) return nullptr;
  return {{"first_host_id", range.first}, {"count", range.count}};
}

inline nlohmann::ordered_json report_to_json(const Report& report, const std::string& backend,
                                             const std::string& supervisor, const std::optional<SandboxLimits>& limits = {}) {
  nlohmann::ordered_json json;
  json["schema"] = report_schema;
  json["session"] = report.session;
  json["backend"] = backend;
  json["supervisor"] = supervisor;
  json["clean"] = report.clean();
  json["containment_proven"] = report.containment_proven;
  json["lazily_detached"] = report.lazily_detached;
  json["build"] = {{"ran", report.build.has_value()},
                   {"timed_out", report.build ? report.build->timed_out : false},
                   {"exit_code", report.build ? report.build->exit_code : -1},
                   {"interrupted", report.build ? report.build->interrupted : false}};
  json["outcome"] = report.interrupted_by ? "interrupted"
                    : !report.build       ? "not_run"
                    : report.build->timed_out ? "timed_out"
                                              : "exited";
  json["signal"] = report.interrupted_by ? nlohmann::ordered_json(linux_sys::signal_name(report.interrupted_by))
                                         : nlohmann::ordered_json();
  nlohmann::ordered_json phases = nlohmann::ordered_json::object();
  for (const auto& [phase, ms] : report.phase_ms) phases[phase] = ms;
  json["phases_ms"] = phases;
  json["steps"] = nlohmann::ordered_json::array();
  for (const auto& step : report.steps)
    json["steps"].push_back({{"step", step.step},
                             {"target", step.target},
                             {"outcome", std::string(to_string(step.outcome))},
                             {"detail", step.detail}});
  json["remains"] = nlohmann::ordered_json::array();
  for (const auto& left : report.remains)
    json["remains"].push_back({{"kind", std::string(to_string(left.kind))}, {"target", left.target}, {"why", left.why}});
  json["errors"] = nlohmann::ordered_json::array();
  for (const auto& error : report.errors) json["errors"].push_back(error.message());
  if (limits)
    json["limits"] = {{"max_processes", limits->limits.max_processes},
                      {"max_memory_bytes", limits->limits.max_memory_bytes},
                      {"capped", limits->capped},
                      {"processes_by", limits->processes_by},
                      {"memory_by", limits->memory_by},
                      {"max_disk_bytes", limits->disk_bytes ? nlohmann::ordered_json(*limits->disk_bytes) : nlohmann::ordered_json()},
                      {"disk_by", limits->disk_by}};
  return json;
}

}  // namespace snapcell::cli
