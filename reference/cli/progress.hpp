#pragma once
// Progress of long work (a debootstrap run): on a terminal one line that is
// rewritten in place; otherwise a plain line whenever the stage changes, and
// at most every 30 s, so CI logs stay short and timestamped.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <fmt/format.h>

namespace snapcell::cli {

class Progress {
 public:
  explicit Progress(std::string what) : what_(std::move(what)), terminal_(::isatty(STDERR_FILENO) == 1) {}
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress() { finish(); }

  double elapsed_seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

  // `stage` is the coarse step (retrieving, unpacking, ...); `item` what it
  // is on now; `count` how many items the stage has done.
  void update(const std::string& stage, const std::string& item, int count) {
    const double now = elapsed_seconds();
    if (terminal_) {
      fmt::print(stderr, "\r\033[K{}: [{:4.0f} s] {} ({}) {}", what_, now, stage, count, item);
      std::fflush(stderr);
      open_line_ = true;
      return;
    }
    // Retrieving and validating alternate per package: a line per stage
    // change would be a line per package. A line every 10 s is enough.
    if (((stage != stage_ && stage != "validating") && now - last_line_ >= 10) || now - last_line_ >= 30) {
      fmt::print(stderr, "{}: [{:4.0f} s] {} ({} so far) {}\n", what_, now, stage, count, item);
      last_line_ = now;
    }
    stage_ = stage;
  }

  void note(const std::string& line) {
    finish();
    fmt::print(stderr, "{}: [{:4.0f} s] {}\n", what_, elapsed_seconds(), line);
  }

  void finish() {
    if (open_line_) fmt::print(stderr, "\n");
    open_line_ = false;
  }

 private:
  std::string what_;
  bool terminal_;
  bool open_line_ = false;
  std::string stage_;
  double last_line_ = -1e9;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace snapcell::cli
