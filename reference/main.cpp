// snapcell: throwaway build sandboxes. `snapcell --help` lists the commands.

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/base_command.hpp"
#include "cli/build_batch.hpp"
#include "cli/build_command.hpp"
#include "cli/build_options.hpp"
#include "cli/exit_codes.hpp"
#include "cli/interruptible.hpp"
#include "cli/reap_command.hpp"
#include "cli/run_command.hpp"
#include "cli/run_options.hpp"
#include "cli/verify_command.hpp"

// The version of CMake's project(), given by the build (reference/CMakeLists.txt).
#ifndef SNAPCELL_VERSION
#error "SNAPCELL_VERSION is not defined: the build passes project(snapcell VERSION ...) as a compile definition"
#endif

namespace {

using namespace snapcell::cli;

// --max-processes, --memory and --disk, the same for run, build and verify.
void add_limits(CLI::App* command, LimitOptions& limits, const char* disk_default) {
  command->add_option("--max-processes", limits.max_processes,
                      "Process cap (the cgroup's pids.max; pidns, session: RLIMIT_NPROC of the sandbox's one uid)")
      ->capture_default_str();
  command->add_option("--memory", limits.memory_mib,
                      "Memory cap, MiB (the cgroup's memory.max; pidns, session: RLIMIT_DATA per process)")
      ->capture_default_str();
  command->add_option("--disk", limits.disk_mib,
                      fmt::format("What the command may write, MiB: overlay's layers, copy's tmpfs beyond the copy, "
                                  "btrfs's qgroup (quotas on), lvm's classic COW space ({})",
                                  disk_default));
}

void add_run(CLI::App& app, RunOptions& options) {
  auto* run = app.add_subcommand("run", "Run one command in a throwaway snapshot of a base, then tear it all down");
  run->add_option("--base", options.base,
                  "The base: a directory (overlay, copy), a btrfs subvolume, or an origin logical volume VG/LV (lvm)")
      ->required();
  run->add_option("--backend", options.backend, "overlay, btrfs, copy or lvm")->capture_default_str();
  run->add_option("--cow-size", options.cow_size,
                  "lvm, classic origins: COW space per snapshot, e.g. 512m (default: a quarter of the origin, at least 32m)");
  run->add_option("--supervisor", options.supervisor,
                  "default (cgroup + PID namespace), pidns, or cgroup and session (not with --userns host)")
      ->capture_default_str();
  run->add_option("--timeout", options.timeout_seconds, "Deadline in seconds; then TERM, grace, KILL")
      ->capture_default_str();
  run->add_option("--grace", options.grace_seconds, "Seconds between TERM and KILL")->capture_default_str();
  run->add_option("--state-dir", options.state_dir, "Mount points, journal and layers (not on the root filesystem)")
      ->capture_default_str();
  run->add_option("--snapshot-dir", options.snapshot_dir, "btrfs: where snapshots go (default: beside the base)");
  run->add_option("--cgroup-parent", options.cgroup_parent, "The cgroup v2 directory builds' cgroups go under")
      ->capture_default_str();
  run->add_option("--log", options.log, "Where the command's output goes (default: under the state dir)");
  run->add_option("--log-cap", options.log_cap_mib, "MiB of the output kept; the rest is counted and dropped")
      ->capture_default_str();
  run->add_option("--network", options.network, "none (only loopback, in a namespace of its own) or host")
      ->capture_default_str();
  run->add_option("--userns", options.userns,
                  "own (root of a user namespace of its own, the snapshot shifted to its ids) "
                  "or host (root of the host's)")
      ->capture_default_str();
  add_limits(run, options.limits, "default: overlay and copy 1024, btrfs none, lvm from the origin");
  run->add_option("--copy-in", options.copy_in, "A file (absolute path) copied into /in before the command runs");
  run->add_flag("--json", options.json, "Print the report as JSON (schema snapcell.report/1)");
  run->add_flag("--summary", options.summary, "Print one line: outcome, cleanup, per-phase timings (ms)");
  run->add_option("command", options.command, "The command, after '--'")->required();
}

void add_reap(CLI::App& app, ReapOptions& options) {
  auto* reap = app.add_subcommand("reap", "Clean up what a killed snapcell left behind; never touches live sessions");
  reap->add_option("--state-dir", options.state_dir, "The state dir the sessions used")->capture_default_str();
  reap->add_option("--cgroup-parent", options.cgroup_parent, "The cgroup parent the sessions used")
      ->capture_default_str();
  reap->add_option("--snapshot-dir", options.snapshot_dir, "btrfs: where that backend's snapshots are");
  reap->add_option("--vg", options.volume_groups, "lvm: a volume group the sessions snapshotted in (repeatable; those the journal names are found without it)");
  reap->add_flag("--json", options.json, "Print the reports as JSON (schema snapcell.reap/1)");
}

void add_build(CLI::App& app, BuildOptions& options) {
  auto* build = app.add_subcommand("build", "Build a Python sdist into wheels in a throwaway snapshot, offline, unprivileged");
  build->add_option("sdist", options.sdists,
                    "Source distributions: NAME-VERSION.tar.gz, .tar or .zip (several: a batch, see --jobs)");
  build->add_option("--from-list", options.from_list, "A file naming more sdists, one path a line");
  build->add_option("--jobs", options.jobs, "Builds at once in a batch, each in its own snapshot")
      ->capture_default_str();
  build->add_option("--base", options.base,
                    "A base name (snapcell base list), a base directory, or an origin logical volume VG/LV (lvm)")
      ->required();
  build->add_option("--backend", options.backend, "overlay, btrfs, copy or lvm")->capture_default_str();
  build->add_option("--cow-size", options.cow_size,
                    "lvm, classic origins: COW space per snapshot, e.g. 512m (default: a quarter of the origin, at least 32m)");
  build->add_option("--supervisor", options.supervisor,
                    "default (cgroup + PID namespace) or pidns (a build needs a PID namespace: not cgroup or session)")
      ->capture_default_str();
  build->add_option("--userns", options.userns,
                    "own: the build runs as uid 1000 of a user namespace of its own; host: as a leased uid of the "
                    "host's")
      ->capture_default_str();
  build->add_option("--timeout", options.timeout_seconds, "Deadline in seconds; then TERM, grace, KILL")
      ->capture_default_str();
  build->add_option("--grace", options.grace_seconds, "Seconds between TERM and KILL")->capture_default_str();
  build->add_option("--out", options.out, "Where wheels and the build log go")->capture_default_str();
  build->add_option("--log-cap", options.log_cap_mib, "MiB of the build's log kept; the rest is counted and dropped")
      ->capture_default_str();
  build->add_option("--wheelhouse", options.wheelhouse,
                    "A directory of wheels (absolute path): build requirements the base lacks are installed from it, "
                    "offline, into the throwaway snapshot");
  add_limits(build, options.limits, "default: overlay and copy 1024, btrfs none, lvm from the origin");
  build->add_option("--state-dir", options.state_dir, "Mount points, journal and layers")->capture_default_str();
  build->add_option("--bases-dir", options.bases_dir, "Where named bases live")->capture_default_str();
  build->add_option("--snapshot-dir", options.snapshot_dir, "btrfs: where snapshots go (default: beside the base)");
  build->add_option("--cgroup-parent", options.cgroup_parent, "The cgroup v2 directory builds' cgroups go under")
      ->capture_default_str();
  build->add_flag("--json", options.json, "Print the report as JSON (schema snapcell.build/1)");
}

void add_base(CLI::App& app, BaseOptions& options) {
  auto* base = app.add_subcommand("base", "Create, list and remove the named bases builds start from");
  base->require_subcommand(1);
  base->add_option("--bases-dir", options.bases_dir, "Where named bases live")->capture_default_str();
  auto* create = base->add_subcommand("create", "Make a Debian base with debootstrap (or import a directory)");
  create->fallthrough();  // --bases-dir may come after the subcommand too
  create->add_option("name", options.create.name, "The base's name: a-z, 0-9, '.', '_', '-'")->required();
  create->add_option("--backend", options.create.backend,
                      "overlay (also serves copy), btrfs, or lvm (an origin LV VG/NAME, tagged snapcell-base)")
      ->capture_default_str();
  create->add_option("--suite", options.create.suite, "The Debian suite")->capture_default_str();
  create->add_option("--from", options.create.from, "Import this directory instead of running debootstrap");
  create->add_option("--mirror", options.create.mirror, "Debian mirror (default: the one apt is configured with)");
  create->add_option("--include", options.create.include,
                     "More Debian packages, comma-separated (build backends: flit, python3-hatchling, ...)")
      ->delimiter(',');
  create->add_option("--vg", options.create.volume_group, "lvm: the volume group the base's LV is made in (required)");
  create->add_option("--thin-pool", options.create.thin_pool, "lvm: make a thin LV in this thin pool of the VG (default: a plain LV)");
  create->add_option("--size", options.create.size,
                     "lvm: the LV's size, e.g. 4g (default: 2g for debootstrap; for --from, the tree's size x1.5 + 64m)");
  create->add_flag("--json", options.json, "Print the new base as JSON");
  auto* list = base->add_subcommand("list", "List the bases, with how long each took to create");
  list->fallthrough();
  list->add_flag("--json", options.json, "Print the list as JSON");
  auto* rm = base->add_subcommand("rm", "Remove a base no build is using");
  rm->fallthrough();
  rm->add_option("name", options.name, "The base's name")->required();
}

void add_verify(CLI::App& app, VerifyOptions& options) {
  auto* verify = app.add_subcommand("verify", "Run every escape and sabotage technique in a fresh session; judge each from outside");
  verify->add_option("--backend", options.backend, "overlay, btrfs, copy or lvm")->capture_default_str();
  verify->add_option("--supervisor", options.supervisor, "default, cgroup, pidns or session")->capture_default_str();
  verify->add_option("--userns", options.userns,
                     "own: each technique as root of a user namespace of its own (run's default); host: as the host's root")
      ->capture_default_str();
  verify->add_option("--base", options.base,
                     "A base holding the adversaries in /opt/snapcell-adversaries, for lvm an origin VG/LV "
                     "(default: build one)");
  verify->add_option("--vg", options.vg, "lvm: the volume group verify makes its own origin in (removed at the end)");
  verify->add_option("--thin-pool", options.thin_pool, "lvm with --vg: make that origin thin, in this pool of the VG");
  verify->add_option("--only", options.only, "Only these techniques (see --list)");
  verify->add_option("--timeout", options.timeout_seconds, "Each technique's deadline in seconds")->capture_default_str();
  verify->add_option("--grace", options.grace_seconds, "Seconds between TERM and KILL")->capture_default_str();
  add_limits(verify, options.limits, "128");
  verify->add_flag("--json", options.json, "Print the matrix as JSON (schema snapcell.verify/1)");
  verify->add_flag("--list", options.list, "List the techniques and exit");
}

}  // namespace

int main(int argc, char** argv) {
  // I9: from here on SIGINT, SIGTERM, SIGHUP and SIGQUIT are read, not
  // delivered: before the first resource, and before any thread exists.
  if (snapcell::Status installed = snapcell::linux_sys::interrupts().install(); !installed)
    return print_error(exit_sandbox_failed, installed.error().message());
  CLI::App app{"snapcell: throwaway copy-on-write build sandboxes that prove nothing is left behind"};
  app.set_version_flag("--version", "snapcell " SNAPCELL_VERSION);
  app.require_subcommand(1);
  RunOptions run_options;
  ReapOptions reap_options;
  BuildOptions build_options;
  BaseOptions base_options;
  add_run(app, run_options);
  add_reap(app, reap_options);
  add_build(app, build_options);
  add_base(app, base_options);
  VerifyOptions verify_options;
  add_verify(app, verify_options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& done) {
    return app.exit(done);  // --help, --version
  } catch (const CLI::ParseError& error) {
    return print_error(exit_bad_input, error.what());
  }

  try {
    if (app.got_subcommand("run")) {
      if (snapcell::Status valid = validate(run_options); !valid) return print_error(exit_bad_input, valid.error().message());
      return run_command(run_options);
    }
    if (app.got_subcommand("build")) {
      build_options.batch = build_options.sdists.size() != 1 || !build_options.from_list.empty() ||
                            app.get_subcommand("build")->count("--jobs") > 0;
      if (!build_options.batch) build_options.sdist = build_options.sdists.front();
      if (snapcell::Status valid = validate(build_options); !valid) return print_error(exit_bad_input, valid.error().message());
      return build_options.batch ? build_batch_command(build_options) : build_command(build_options);
    }
    if (auto* base = app.get_subcommand("base"); base->parsed()) {
      if (snapcell::Status valid = validate(base_options); !valid) return print_error(exit_bad_input, valid.error().message());
      if (base->got_subcommand("create")) return base_create_command(base_options);
      if (base->got_subcommand("list")) return base_list_command(base_options);
      return base_rm_command(base_options);
    }
    if (app.got_subcommand("verify")) {
      if (snapcell::Status valid = validate(verify_options); !valid) return print_error(exit_bad_input, valid.error().message());
      return verify_command(verify_options);
    }
    return reap_command(reap_options);
  } catch (const snapcell::Failure& failure) {
    return print_error(exit_sandbox_failed, failure.what());
  }
}
