// Fuzz target: parse_proc_stat and parse_proc_status
// (include/snapcell/linux/proc_stat.hpp), both on every input.
//
// Properties:
//  stat    never crashes; for an accepted text, pid > 0 and the text is
//          exactly "<pid> (<comm>)<rest>" where <rest> (the text after the
//          last ')') holds no ')' and is not part of the comm: a comm with
//          spaces and parentheses cannot shift the fields after it. The state
//          is rest's first field; ppid, pgrp and session are not negative.
//  status  never crashes; for an accepted text, Tgid and Pid are positive,
//          PPid is not negative, NSpid (when present) starts with Pid and
//          ends with the innermost pid, and the Name line's value is the
//          decoded name escaped back as the kernel escapes it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "check.hpp"
#include "snapcell/linux/proc_stat.hpp"

namespace {

using namespace snapcell::linux_text;

void check_stat(std::string_view text) {
  const auto stat = parse_proc_stat(text);
  if (!stat) return;
  FUZZ_CHECK(stat->pid > 0, text, "accepted pid {}", stat->pid);
  std::string_view body = text;
  if (body.ends_with('\n')) body.remove_suffix(1);
  const std::string head = fmt::format("{} (", stat->pid);
  FUZZ_CHECK(body.starts_with(head), text, "the text does not start with '{}'", head);
  const auto close = body.rfind(')');
  FUZZ_CHECK(close != std::string_view::npos && close >= head.size(), text, "no ')' after the comm");
  const std::string_view rest = body.substr(close + 1);
  FUZZ_CHECK(stat->comm == body.substr(head.size(), close - head.size()), text,
             "comm '{}' is not what lies between '(' and the last ')'", excerpt(stat->comm));
  FUZZ_CHECK(rest.find(')') == std::string_view::npos, text, "the text after the last ')' holds a ')'");
  FUZZ_CHECK(rest.size() >= 2 && rest[0] == ' ' && rest[1] == stat->state, text, "state '{}' is not rest's first field",
             stat->state);
  FUZZ_CHECK(stat->ppid >= 0 && stat->pgrp >= 0 && stat->session >= 0, text, "negative ppid {}, pgrp {} or session {}",
             stat->ppid, stat->pgrp, stat->session);
}

std::string escape_status_name(std::string_view name) {
  std::string escaped;
  for (const char c : name) {
    if (c == '\n')
      escaped += "\\n";
    else if (c == '\\')
      escaped += "\\\\";
    else
      escaped.push_back(c);
  }
  return escaped;
}

void check_status(std::string_view text) {
  const auto status = parse_proc_status(text);
  if (!status) return;
  FUZZ_CHECK(status->tgid > 0 && status->pid > 0, text, "accepted Tgid {} or Pid {}", status->tgid, status->pid);
  FUZZ_CHECK(status->ppid >= 0, text, "accepted PPid {}", status->ppid);
  if (status->ns_pids.empty()) {
    FUZZ_CHECK(!status->ns_pid_innermost, text, "an innermost pid without NSpid");
  } else {
    FUZZ_CHECK(status->ns_pids.front() == status->pid, text, "NSpid starts with {}, Pid is {}",
               status->ns_pids.front(), status->pid);
    FUZZ_CHECK(status->ns_pid_innermost == status->ns_pids.back(), text, "innermost pid is not NSpid's last");
    for (const int pid : status->ns_pids) FUZZ_CHECK(pid > 0, text, "NSpid holds {}", pid);
  }
  for (const auto line : split_lines(text)) {
    if (!line.starts_with("Name:")) continue;
    FUZZ_CHECK(line.substr(6) == escape_status_name(status->name), text, "Name '{}' does not escape back to its line",
               excerpt(status->name));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_stat(text);
  check_status(text);
  return 0;
}
