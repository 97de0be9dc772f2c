#pragma once
// /proc/PID/stat and /proc/PID/status (fs/proc/array.c, proc_pid_stat(5),
// proc_pid_status(5)): the identity of a process as the leftover sweep sees
// it. Supervisors decide from these which process to signal, so text that is
// not exactly what the kernel prints is an error, never a best guess.

#include <climits>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/linux/numbers.hpp"

namespace snapcell::linux_text {

struct ProcStat {
  int pid;
  std::string comm;  // raw bytes: any but NUL, newlines and ')' included
  char state;
  int ppid;     // 0 for the namespace's init and for kernel threads
  int pgrp;     // 0 when the group leader is outside the reader's PID namespace
  int session;  // likewise
  std::uint64_t start_time;  // field 22, clock ticks since boot

  bool operator==(const ProcStat&) const = default;
};

// The whole file, with or without its final newline.
inline Result<ProcStat> parse_proc_stat(std::string_view text) {
  const auto fail = [text](std::string detail) {
    return parse_error("parse_proc_stat", text, std::move(detail));
  };
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.find('\0') != std::string_view::npos) return fail("NUL byte");

  // The comm is printed raw (unlike in status), so it may hold spaces, ')'
  // and newlines: it runs from the first '(' to the last ')' of the text,
  // and no later field can hold a ')'.
  const auto space = text.find(' ');
  if (space == std::string_view::npos) return fail("no comm field");
  const auto pid = parse_pid(text.substr(0, space));
  if (!pid) return fail("pid (1) is not a positive decimal");
  if (space + 1 >= text.size() || text[space + 1] != '(') return fail("comm (2) does not start with '('");
  const auto close = text.rfind(')');
  if (close == std::string_view::npos || close < space + 2) return fail("comm (2) has no closing ')'");
  const std::string_view comm = text.substr(space + 2, close - space - 2);
  const std::string_view rest = text.substr(close + 1);
  if (rest.empty() || rest.front() != ' ') return fail("no space after comm (2)");

  // Field 3 on: state, then numbers only (some negative: tpgid, nice). Field
  // 22 (start time) exists since Linux 2.6; later kernels append more.
  const auto fields = split(rest.substr(1), ' ');
  constexpr std::size_t start_time_index = 22 - 3;
  if (fields.size() <= start_time_index) {
    return fail(fmt::format("{} fields, expected at least 22", fields.size() + 2));
  }
  // Every letter some kernel has printed: R S D T t Z X since 2.6, x K W P in
  // 3.x, P I since 4.14.
  constexpr std::string_view states = "RSDTtZXxKWPI";
  if (fields[0].size() != 1 || states.find(fields[0][0]) == std::string_view::npos) {
    return fail("state (3) is not a known state letter");
  }
  for (std::size_t i = 1; i < fields.size(); ++i) {
    if (!is_decimal_token(fields[i])) return fail(fmt::format("field ({}) is not a decimal", i + 3));
  }
  const auto ppid = parse_decimal<int>(fields[1]);
  const auto pgrp = parse_decimal<int>(fields[2]);
  const auto session = parse_decimal<int>(fields[3]);
  if (!ppid || *ppid < 0) return fail("ppid (4) is not a non-negative int");
  if (!pgrp || *pgrp < 0) return fail("pgrp (5) is not a non-negative int");
  if (!session || *session < 0) return fail("session (6) is not a non-negative int");
  const auto start_time = parse_decimal<std::uint64_t>(fields[start_time_index]);
  if (!start_time) return fail("start time (22) is not a 64-bit unsigned decimal");

  return ProcStat{*pid, std::string(comm), fields[0][0], *ppid, *pgrp, *session, *start_time};
}

struct ProcStatus {
  std::string name;  // decoded: status escapes '\n' and '\\' in the comm
  int tgid;
  int pid;
  int ppid;
  std::optional<int> ns_pid_innermost;  // the pid as seen in its own PID namespace
  std::vector<int> ns_pids;  // NSpid (Linux 4.1+): from the reader's namespace inwards
  std::uint32_t uid_real;  // uid_t: snapcell's own build uids start at 3,100,000,000

  bool operator==(const ProcStatus&) const = default;
};

namespace detail {

// proc_task_name(..., escape=true) escapes exactly '\n' as "\n" and '\\' as
// "\\"; every other byte, tab and ':' included, comes raw.
inline std::optional<std::string> unescape_status_name(std::string_view value) {
  std::string name;
  name.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '\\') {
      name.push_back(value[i]);
      continue;
    }
    if (i + 1 >= value.size()) return std::nullopt;
    const char escaped = value[++i];
    if (escaped == 'n') {
      name.push_back('\n');
    } else if (escaped == '\\') {
      name.push_back('\\');
    } else {
      return std::nullopt;
    }
  }
  return name;
}

inline bool is_status_key(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    const bool word = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!word) return false;
  }
  return true;
}

}  // namespace detail

// The whole file. Lines are "Key:\tvalue"; keys other than Name, Tgid, Pid,
// PPid, NSpid and Uid are skipped (their set grows with every kernel), but
// every line must still have the shape of one.
inline Result<ProcStatus> parse_proc_status(std::string_view text) {
  constexpr std::string_view op = "parse_proc_status";
  ProcStatus status{};
  bool have_name = false, have_tgid = false, have_pid = false, have_ppid = false, have_nspid = false,
       have_uid = false;

  const auto lines = split_lines(text);
  for (std::size_t index = 0; index < lines.size(); ++index) {
    const std::string_view line = lines[index];
    const auto fail = [line, index, op](std::string detail) {
      return at_line(parse_error(op, line, std::move(detail)), index);
    };
    if (line.find('\0') != std::string_view::npos) return fail("NUL byte");
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || !detail::is_status_key(line.substr(0, colon))) {
      return fail("not a \"Key:\" line");
    }
    const std::string_view key = line.substr(0, colon);
    bool* seen = key == "Name"    ? &have_name
                 : key == "Tgid"  ? &have_tgid
                 : key == "Pid"   ? &have_pid
                 : key == "PPid"  ? &have_ppid
                 : key == "NSpid" ? &have_nspid
                 : key == "Uid"   ? &have_uid
                                  : nullptr;
    if (seen == nullptr) continue;
    if (*seen) return fail(fmt::format("{} given twice", key));
    *seen = true;
    std::string_view value = line.substr(colon + 1);
    if (value.empty() || value.front() != '\t') return fail(fmt::format("{}: no tab after the colon", key));
    value.remove_prefix(1);

    if (key == "Name") {
      auto name = detail::unescape_status_name(value);
      if (!name) return fail("Name: backslash not followed by 'n' or '\\'");
      status.name = std::move(*name);
    } else if (key == "Tgid" || key == "Pid") {
      const auto id = parse_pid(value);
      if (!id) return fail(fmt::format("{}: not a positive decimal", key));
      (key == "Tgid" ? status.tgid : status.pid) = *id;
    } else if (key == "PPid") {
      const auto ppid = parse_decimal<int>(value);
      if (!ppid || *ppid < 0) return fail("PPid: not a non-negative decimal");
      status.ppid = *ppid;
    } else if (key == "NSpid") {
      for (const std::string_view token : split(value, '\t')) {
        const auto id = parse_pid(token);
        if (!id) return fail("NSpid: not a tab-separated list of positive decimals");
        status.ns_pids.push_back(*id);
      }
      status.ns_pid_innermost = status.ns_pids.back();
    } else {  // Uid: real, effective, saved, filesystem
      const auto ids = split(value, '\t');
      if (ids.size() != 4) return fail(fmt::format("Uid: {} values, expected 4", ids.size()));
      for (const std::string_view token : ids) {
        if (!parse_decimal<std::uint32_t>(token)) return fail("Uid: not an unsigned 32-bit decimal");
      }
      status.uid_real = *parse_decimal<std::uint32_t>(ids[0]);
    }
  }

  const auto missing = !have_tgid ? "Tgid" : !have_pid ? "Pid" : !have_ppid ? "PPid" : !have_uid ? "Uid" : "";
  if (*missing != '\0') return parse_error(op, text, fmt::format("no {} line", missing));
  // Pid and the first NSpid both come from the reader's namespace.
  if (have_nspid && status.ns_pids.front() != status.pid) {
    return parse_error(op, text, "NSpid does not start with Pid");
  }
  return status;
}

}  // namespace snapcell::linux_text
