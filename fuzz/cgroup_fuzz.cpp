// Fuzz target: the cgroup text parsers (include/snapcell/linux/cgroup_text.hpp),
// all of them on every input.
//
// Properties, besides never crashing:
//  cgroup.events    an accepted text has a line "populated 0" or "populated 1"
//                   saying what was parsed, and "frozen" likewise when present.
//  cgroup.procs     every accepted pid is positive (0 is a task outside our
//                   PID namespace, and kill(0) signals our own group), and
//                   the pids printed one a line give back the text.
//  /proc/PID/cgroup hierarchy ids are unique, controllers are listed for
//                   every hierarchy but 0 and only there, paths are absolute,
//                   the memberships printed back give the text, and
//                   unified_path() is the path of hierarchy 0, if listed.

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "check.hpp"
#include "snapcell/linux/cgroup_text.hpp"

namespace {

using namespace snapcell::linux_text;

// The text as a kernel file would hold it: with its final newline.
std::string with_final_newline(std::string_view text) {
  std::string full(text);
  if (!full.empty() && full.back() != '\n') full.push_back('\n');
  return full;
}

void check_events(std::string_view text) {
  const auto events = parse_cgroup_events(text);
  if (!events) return;
  bool populated_line = false;
  for (const auto line : split_lines(text)) {
    if (line.starts_with("populated ")) {
      FUZZ_CHECK(line == (events->populated ? "populated 1" : "populated 0"), text, "populated {} read from '{}'",
                 events->populated, excerpt(line));
      populated_line = true;
    }
    if (line.starts_with("frozen "))
      FUZZ_CHECK(line == (events->frozen ? "frozen 1" : "frozen 0"), text, "frozen {} read from '{}'", events->frozen,
                 excerpt(line));
  }
  FUZZ_CHECK(populated_line, text, "accepted without a populated line");
}

void check_procs(std::string_view text) {
  const auto pids = parse_cgroup_procs(text);
  if (!pids) return;
  std::string printed;
  for (const int pid : *pids) {
    FUZZ_CHECK(pid > 0, text, "accepted pid {}", pid);
    printed += fmt::format("{}\n", pid);
  }
  FUZZ_CHECK(printed == with_final_newline(text), text, "the pids print back as '{}'", excerpt(printed));
}

void check_proc_cgroup(std::string_view text) {
  const auto memberships = parse_proc_cgroup(text);
  if (!memberships) return;
  std::string printed;
  std::set<int> ids;
  const CgroupMembership* unified = nullptr;
  for (const auto& m : *memberships) {
    FUZZ_CHECK(ids.insert(m.hierarchy_id).second, text, "hierarchy {} accepted twice", m.hierarchy_id);
    FUZZ_CHECK(m.hierarchy_id >= 0, text, "hierarchy id {}", m.hierarchy_id);
    FUZZ_CHECK((m.hierarchy_id == 0) == m.controllers.empty(), text, "hierarchy {} with {} controllers",
               m.hierarchy_id, m.controllers.size());
    FUZZ_CHECK(!m.path.empty() && m.path.front() == '/', text, "path '{}' is not absolute", excerpt(m.path));
    std::string controllers;
    for (const auto& c : m.controllers) {
      FUZZ_CHECK(!c.empty() && c.find(',') == std::string::npos, text, "controller '{}'", excerpt(c));
      controllers += (controllers.empty() ? "" : ",") + c;
    }
    printed += fmt::format("{}:{}:{}\n", m.hierarchy_id, controllers, m.path);
    if (m.hierarchy_id == 0) unified = &m;
  }
  FUZZ_CHECK(printed == with_final_newline(text), text, "the memberships print back as '{}'", excerpt(printed));
  const auto path = unified_path(*memberships);
  FUZZ_CHECK(path.has_value() == (unified != nullptr) && (!path || *path == unified->path), text,
             "unified_path() is not hierarchy 0's path");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_events(text);
  check_procs(text);
  check_proc_cgroup(text);
  return 0;
}
