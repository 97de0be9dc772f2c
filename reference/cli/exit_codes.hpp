#pragma once
// The CLI's exit codes: what a build farm's engine branches on.

#include <cstdio>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace snapcell::cli {

enum ExitCode : int {
  exit_ok = 0,             // the command (or build) ran and succeeded, and cleanup proved nothing is left
  exit_build_failed = 1,   // the command ran and failed, or hit its deadline; the log says why
  exit_bad_input = 2,      // the request was refused before anything was created
  exit_sandbox_failed = 3, // the sandbox could not be set up or cleaned; the report names what remains
};

// Every error the CLI prints is one line, whatever the user typed: control
// characters in an echoed path or name are shown escaped.
inline std::string one_line(std::string_view text) {
  std::string shown;
  for (unsigned char c : text) {
    if (c == '\n') shown += "\\n";
    else if (c < 0x20 || c == 0x7f) shown += fmt::format("\\x{:02x}", c);
    else shown += static_cast<char>(c);
  }
  return shown;
}

inline int print_error(int code, std::string_view message) {
  fmt::print(stderr, "snapcell: {}\n", one_line(message));
  return code;
}

}  // namespace snapcell::cli
