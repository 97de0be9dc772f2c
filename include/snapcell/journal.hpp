#pragma once
// A session's plan as it is written to the journal before anything is
// acquired. Every resource name is derived up front, so that teardown and reap
// visit each one whether or not its step ran, and each guard decides.

#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/names.hpp"

namespace snapcell {

inline constexpr std::string_view journal_format_version = "snapcell-journal 1";

struct SessionPlan {
  std::string name;
  std::string origin;
  std::string volume;
  std::string mount_point;
  std::string mount_source;     // filled once the volume manager has said how to mount it
  std::string volumes_kind;     // which VolumeManager holds the volume: reap must use the same
  std::string supervisor_kind;
  std::string unit;             // the supervisor's serialized Unit, once spawned

  bool operator==(const SessionPlan&) const = default;
};

inline std::string mount_point_for(std::string_view run_dir, std::string_view name) { return join_path(run_dir, name); }

inline SessionPlan plan_for(std::string name, std::string origin, std::string_view run_dir,
                            std::string volumes_kind, std::string supervisor_kind) {
  SessionPlan plan;
  plan.volumes_kind = std::move(volumes_kind);
  plan.volume = name;
  plan.mount_point = mount_point_for(run_dir, name);
  plan.name = std::move(name);
  plan.origin = std::move(origin);
  plan.supervisor_kind = std::move(supervisor_kind);
  return plan;
}

namespace detail {
inline bool has_line_break(std::string_view text) { return text.find_first_of("\r\n") != std::string_view::npos; }
}  // namespace detail

inline std::string serialize_plan(const SessionPlan& plan) {
  return fmt::format(
      "{}\nname {}\norigin {}\nvolume {}\nmount_point {}\nmount_source {}\nvolumes {}\nsupervisor {}\nunit {}\n",
      journal_format_version, plan.name, plan.origin, plan.volume, plan.mount_point, plan.mount_source,
      plan.volumes_kind, plan.supervisor_kind, plan.unit);
}

// Strict: every key once, in order, nothing else. A record that does not read
// back exactly is not trusted to name anything.
inline Result<SessionPlan> parse_plan(std::string_view text) {
  auto reject = [](std::string why) { return Result<SessionPlan>{logic_error("parse journal record", "", std::move(why))}; };
  SessionPlan plan;
  std::string* fields[] = {&plan.name,        &plan.origin,          &plan.volume, &plan.mount_point,
                           &plan.mount_source, &plan.volumes_kind, &plan.supervisor_kind, &plan.unit};
  constexpr std::string_view keys[] = {"name",         "origin",  "volume",     "mount_point",
                                       "mount_source", "volumes", "supervisor", "unit"};

  auto next_line = [&text]() -> std::optional<std::string_view> {
    auto end = text.find('\n');
    if (end == std::string_view::npos) return std::nullopt;  // every line, the last too, ends in '\n'
    auto line = text.substr(0, end);
    text.remove_prefix(end + 1);
    return line;
  };
  auto header = next_line();
  if (!header || *header != journal_format_version) return reject("missing or unknown header");
  for (std::size_t i = 0; i < std::size(keys); ++i) {
    auto line = next_line();
    if (!line) return reject(fmt::format("truncated before '{}'", keys[i]));
    if (line->size() < keys[i].size() + 1 || line->substr(0, keys[i].size()) != keys[i] ||
        (*line)[keys[i].size()] != ' ')
      return reject(fmt::format("expected '{}'", keys[i]));
    auto value = line->substr(keys[i].size() + 1);
    if (value.find('\r') != std::string_view::npos || value.find('\0') != std::string_view::npos)
      return reject(fmt::format("'{}' holds a control character", keys[i]));
    *fields[i] = std::string(value);
  }
  if (!text.empty()) return reject("trailing content");
  return plan;
}

// What makes a plan safe to act on: every resource it names is the one the
// naming convention derives from its name. A corrupted or forged record that
// names `/` or another session's volume fails here.
inline Status validate_plan(const SessionPlan& plan, std::string_view prefix, std::string_view run_dir) {
  auto reject = [&](std::string why) { return Status{logic_error("validate journal record", plan.name, std::move(why))}; };
  if (!is_session_name(prefix, plan.name)) return reject(fmt::format("name does not follow '{}-<16 hex>'", prefix));
  if (plan.volume != plan.name) return reject("volume is not the session's name");
  if (plan.mount_point != mount_point_for(run_dir, plan.name)) return reject("mount point is not under the run dir");
  if (plan.origin.empty() || plan.origin == plan.volume) return reject("origin is empty or the session itself");
  for (const std::string* field : {&plan.origin, &plan.mount_source, &plan.volumes_kind, &plan.supervisor_kind, &plan.unit})
    if (detail::has_line_break(*field)) return reject("a field holds a line break");
  return {};
}

}  // namespace snapcell
