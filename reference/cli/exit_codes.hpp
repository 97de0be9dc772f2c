#pragma once
// The CLI's exit codes: what a build farm's engine branches on.

namespace snapcell::cli {

enum ExitCode : int {
  exit_ok = 0,             // the command (or build) ran and succeeded, and cleanup proved nothing is left
  exit_build_failed = 1,   // the command ran and failed, or hit its deadline; the log says why
  exit_bad_input = 2,      // the request was refused before anything was created
  exit_sandbox_failed = 3, // the sandbox could not be set up or cleaned; the report names what remains
};

}  // namespace snapcell::cli
