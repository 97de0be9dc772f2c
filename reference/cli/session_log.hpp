#pragma once
// Where a command's output goes when the user names no file: the state
// dir's logs, under the session's own name. A name drawn fresh for each
// session (never a PID or a build uid, which a later run reuses) means no
// run ever appends to what an earlier one left there. `run` reads the tail
// back into its report and removes the file; `build` moves it beside the
// wheels.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "cli/exit_codes.hpp"
#include "cli/state.hpp"
#include "snapcell/linux/sys.hpp"
#include "snapcell/names.hpp"

namespace snapcell::cli {

inline std::string session_log_path(const StateDirs& dirs, std::string_view session) {
  return join_path(dirs.logs, std::string(session) + ".log");
}

// The end of a log, for a report: its size, and its last lines (at most
// `max_lines`, from at most its last `max_bytes`), each escaped onto one
// line, as whatever a build printed is untrusted. Opened without following
// a link or waiting on a FIFO; anything but a regular file reads as empty.
struct LogTail {
  std::uint64_t bytes = 0;
  std::vector<std::string> lines;
  bool complete = true;  // the lines are the whole log
};

inline LogTail read_log_tail(const std::string& path, std::size_t max_lines = 20, std::size_t max_bytes = 16 * 1024) {
  LogTail tail;
  auto fd = linux_sys::open_fd(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (!fd) return tail;
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode)) return tail;
  tail.bytes = static_cast<std::uint64_t>(st.st_size);
  const std::uint64_t start = tail.bytes > max_bytes ? tail.bytes - max_bytes : 0;
  std::string text(static_cast<std::size_t>(tail.bytes - start), '\0');
  const ssize_t got = ::pread(fd->get(), text.data(), text.size(), static_cast<off_t>(start));
  text.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
  std::vector<std::string> lines;
  std::size_t from = 0;
  while (from < text.size()) {
    std::size_t end = text.find('\n', from);
    if (end == std::string::npos) end = text.size();
    lines.push_back(one_line(std::string_view(text).substr(from, end - from)));
    from = end + 1;
  }
  // A cut at `start` may have split the first line: it is dropped.
  if (start > 0 && !lines.empty()) lines.erase(lines.begin());
  tail.complete = start == 0 && lines.size() <= max_lines;
  if (lines.size() > max_lines) lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(max_lines));
  tail.lines = std::move(lines);
  return tail;
}

}  // namespace snapcell::cli
