#pragma once
// Text of cgroup v2 files (cgroup.events, cgroup.procs; kernel
// Documentation/admin-guide/cgroup-v2.rst) and of /proc/PID/cgroup
// (cgroups(7)). `populated 0` is the proof that a build left nothing behind
// and cgroup.procs names what is left to kill, so text that is not exactly
// what the kernel prints is an error, never a best guess.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/linux/numbers.hpp"

namespace snapcell::linux_text {

struct CgroupEvents {
  bool populated;  // some process lives in this cgroup or below it
  bool frozen;     // false when the kernel predates the freezer (5.2)

  bool operator==(const CgroupEvents&) const = default;
};

// "key value" lines; keys other than populated and frozen are skipped, as
// later kernels may add some.
inline Result<CgroupEvents> parse_cgroup_events(std::string_view text) {
  constexpr std::string_view op = "parse_cgroup_events";
  CgroupEvents events{false, false};
  bool have_populated = false, have_frozen = false;
  const auto lines = split_lines(text);
  for (std::size_t index = 0; index < lines.size(); ++index) {
    const auto fail = [line = lines[index], index, op](std::string detail) {
      return at_line(parse_error(op, line, std::move(detail)), index);
    };
    const auto words = split(lines[index], ' ');
    if (words.size() != 2 || words[0].empty() || words[1].empty()) return fail("not a \"key value\" line");
    const bool populated = words[0] == "populated";
    if (!populated && words[0] != "frozen") continue;
    bool& seen = populated ? have_populated : have_frozen;
    if (seen) return fail(fmt::format("{} given twice", words[0]));
    seen = true;
    if (words[1] != "0" && words[1] != "1") return fail(fmt::format("{} is neither 0 nor 1", words[0]));
    (populated ? events.populated : events.frozen) = words[1] == "1";
  }
  if (!have_populated) return parse_error(op, text, "no populated line");
  return events;
}

// cgroup.procs (or cgroup.threads): one id a line, in no particular order and
// possibly repeated (the kernel does not promise otherwise). A task outside
// the reader's PID namespace is listed as 0, which cannot be signalled
// safely (kill(0, ...) is the caller's own group), so it is an error here.
inline Result<std::vector<int>> parse_cgroup_procs(std::string_view text) {
  return parse_lines<int>(text, [](std::string_view line) -> Result<int> {
    const auto pid = parse_pid(line);
    if (!pid) {
      return parse_error("parse_cgroup_procs", line,
                         line == "0" ? "pid 0: a task outside the reader's PID namespace"
                                     : "not a positive decimal pid");
    }
    return *pid;
  });
}

struct CgroupMembership {
  int hierarchy_id;                      // 0 for the v2 (unified) hierarchy
  std::vector<std::string> controllers;  // v1 only: "cpu", "name=systemd"; empty for v2
  std::string path;  // relative to the reader's cgroup namespace root, so it may
                     // start with "/.."; a removed v2 cgroup ends in " (deleted)"

  bool operator==(const CgroupMembership&) const = default;
};

// One "ID:controllers:path" line; the path is the rest of the line and may
// itself hold ':'.
inline Result<CgroupMembership> parse_proc_cgroup_line(std::string_view line) {
  const auto fail = [line](std::string detail) {
    return parse_error("parse_proc_cgroup", line, std::move(detail));
  };
  const auto first = line.find(':');
  const auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
  if (second == std::string_view::npos) return fail("not an \"ID:controllers:path\" line");

  CgroupMembership membership{};
  const auto id = parse_decimal<int>(line.substr(0, first));
  if (!id || *id < 0) return fail("hierarchy id is not a non-negative decimal");
  membership.hierarchy_id = *id;

  // Every v1 hierarchy has controllers or a name= (mount refuses one with
  // neither); the v2 hierarchy never lists any.
  const std::string_view controllers = line.substr(first + 1, second - first - 1);
  if ((membership.hierarchy_id == 0) != controllers.empty()) {
    return fail("controllers must be empty for hierarchy 0 and only there");
  }
  if (!controllers.empty()) {
    for (const std::string_view controller : split(controllers, ',')) {
      if (controller.empty()) return fail("empty controller name");
      membership.controllers.emplace_back(controller);
    }
  }

  const std::string_view path = line.substr(second + 1);
  if (path.empty() || path.front() != '/') return fail("path is not absolute");
  if (path.find('\0') != std::string_view::npos) return fail("NUL byte in path");
  membership.path = std::string(path);
  return membership;
}

// The whole file; each hierarchy appears once.
inline Result<std::vector<CgroupMembership>> parse_proc_cgroup(std::string_view text) {
  auto memberships = parse_lines<CgroupMembership>(text, parse_proc_cgroup_line);
  if (!memberships) return memberships;
  const auto id_of = [](const CgroupMembership& membership) { return membership.hierarchy_id; };
  if (const auto i = first_repeated(*memberships, id_of)) {
    const int id = (*memberships)[*i].hierarchy_id;
    return at_line(logic_error("parse_proc_cgroup", fmt::format("hierarchy {}", id), "listed twice"), *i);
  }
  return memberships;
}

// The v2 path, if the process is in the unified hierarchy.
inline std::optional<std::string> unified_path(const std::vector<CgroupMembership>& memberships) {
  for (const auto& membership : memberships) {
    if (membership.hierarchy_id == 0) return membership.path;
  }
  return std::nullopt;
}

}  // namespace snapcell::linux_text
