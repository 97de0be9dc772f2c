#pragma once
// `snapcell run`: one throwaway snapshot of a base, one command inside it,
// full teardown, and a report of per-phase timings and what cleanup proved.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <random>
#include <string>

#include <fmt/format.h>

#include "cli/copy_in.hpp"
#include "cli/exit_codes.hpp"
#include "cli/id_lease.hpp"
#include "cli/interruptible.hpp"
#include "cli/json_report.hpp"
#include "cli/policies.hpp"
#include "cli/capped_log.hpp"
#include "cli/run_options.hpp"
#include "cli/session_log.hpp"
#include "cli/state.hpp"
#include "snapcell/session.hpp"

namespace snapcell::cli {

// 64 bits from the kernel's entropy pool: a nonce, not the guarantee of
// uniqueness (that is the journal's exclusive claim).
inline std::uint64_t random_nonce() {
  std::random_device device;
  return (std::uint64_t{device()} << 32) ^ device();
}

inline std::string summary_line(const Report& report) {
  double total = 0;
  std::string phases;
  for (const auto& [phase, ms] : report.phase_ms) {
    total += ms;
    if (phase != "validate" && phase != "claim" && phase != "prove") phases += fmt::format(" {} {:.1f}", phase, ms);
  }
  std::string outcome = report.interrupted_by     ? linux_sys::signal_name(report.interrupted_by)
                        : !report.build             ? "not run"
                        : report.build->timed_out ? "timed out"
                                                  : fmt::format("exit {}", report.build->exit_code);
  return fmt::format("{} {:<9} {:<14}{} | total {:.1f} ms", report.session, outcome,
                     report.clean() ? "nothing left" : "LEFT RESOURCES", phases, total);
}

// A range for a session's user namespace (--userns own), held until the
// lease is dropped; none for --userns host.
inline Result<std::optional<IdLease>> lease_user_namespace(std::string_view userns) {
  if (userns != "own") return std::optional<IdLease>{};
  auto leased = lease_ids(id_lease_dir(), user_namespace_pool, random_nonce());
  if (!leased) return leased.error();
  return std::optional<IdLease>{std::move(*leased)};
}

// What run (and verify, which runs as run does) asks of the sandbox beyond
// its fixed hardening: the network, and root of the leased user namespace.
// Overlay and copy volumes are made shifted into the range (OverlayVolumes,
// CopyVolumes), so the root is entered as it is; btrfs and lvm roots are
// idmapped for the sandbox.
inline Isolation sandbox_isolation(const RunOptions& options) {
  Isolation isolation;
  isolation.private_network = options.network == "none";
  isolation.user_namespace = options.user_namespace;
  return isolation;
}

// The command's output: in the file --log named, or, without one, its end
// in the report (the state dir's copy is removed).
struct RunOutput {
  std::string log;  // --log; empty: none
  CappedLog::Written written;
  std::uint64_t cap_bytes = 0;
  LogTail tail;     // without --log
};

inline std::string describe_output(const RunOutput& output) {
  const std::string dropped =
      output.written.dropped == 0
          ? std::string()
          : fmt::format(", {} more dropped at the cap of {} MiB (--log-cap)", output.written.dropped, output.cap_bytes >> 20);
  if (!output.log.empty()) return fmt::format("  output: {} bytes in {}{}\n", output.written.kept, one_line(output.log), dropped);
  if (output.written.kept == 0) return "  output: none\n";
  std::string text = fmt::format("  output: {} bytes{}", output.written.kept, dropped);
  text += output.tail.complete ? ":\n" : fmt::format(", the last {} lines:\n", output.tail.lines.size());
  for (const auto& line : output.tail.lines) text += fmt::format("    | {}\n", line);
  return text;
}

inline nlohmann::ordered_json output_json(const RunOutput& output) {
  nlohmann::ordered_json json{{"bytes", output.written.kept}, {"dropped_bytes", output.written.dropped},
                              {"cap_bytes", output.cap_bytes}};
  if (!output.log.empty()) json["log"] = output.log;
  else json["tail"] = output.tail.lines;
  return json;
}

inline std::string describe_identity(const IdRange& range) {
  if (range.count == 0) return "root of the host's user namespace (--userns host)";
  return fmt::format("root of its own user namespace, host ids {}", host_id_span(range));
}

inline int report_and_exit(const Report& report, const RunOptions& options, const IdRange& user_namespace,
                           const RunOutput& output) {
  if (options.summary) {
    std::puts(summary_line(report).c_str());
    for (const auto& error : report.errors) fmt::print("  error: {}\n", error.message());
    for (const auto& left : report.remains) fmt::print("  remains {} {}: {}\n", to_string(left.kind), left.target, left.why);
  } else if (options.json) {
    auto json = report_to_json(report, options.backend, options.supervisor, sandbox_limits(options, options.userns == "host"));
    json["user_namespace"] = user_namespace_json(user_namespace);
    json["output"] = output_json(output);
    std::puts(json.dump(2).c_str());
  } else {
    std::fputs(format_report(report).c_str(), stdout);
    fmt::print("  identity: {}\n", describe_identity(user_namespace));
    fmt::print("  limits: {}\n", describe(sandbox_limits(options, options.userns == "host")));
    std::string phases;
    for (const auto& [phase, ms] : report.phase_ms) phases += fmt::format(" {} {:.2f}", phase, ms);
    fmt::print("  timings (ms):{}\n", phases);
    std::fputs(describe_output(output).c_str(), stdout);
  }
  if (report.interrupted_by != 0) return interrupted_exit(report.interrupted_by);
  if (!report.errors.empty() && !report.build) return exit_sandbox_failed;
  if (!report.clean()) return exit_sandbox_failed;
  if (!report.build || report.build->timed_out || report.build->exit_code != 0) return exit_build_failed;
  return exit_ok;
}

// The base must be what the backend snapshots: a directory, for btrfs the
// root of a subvolume, for lvm an active origin LV with a filesystem (what
// lvs and its superblock say goes into options.lvm). Checked before anything
// is created.
inline Status check_base(RunOptions& options) {
  if (options.backend == "lvm") {
    auto name = parse_lvm_base(options.base);
    if (!name) return name.error();
    const linux_sys::LvmOptions lvm = lvm_options_for_this_host();
    auto origin = probe_lvm_origin(*name, lvm);
    if (!origin) return origin.error();
    if (origin->mode == linux_sys::LvmSnapshotMode::thin && options.limits.disk_mib != 0)
      return logic_error("--disk", options.base,
                         "is a thin LV: its snapshots write into the thin pool, which is their cap (size the pool instead)");
    options.lvm = session_lvm_config(*origin, snapshot_cow_size(options), lvm);
    return {};
  }
  auto base = linux_sys::open_fd(options.base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!base) {
    Error error = base.error();
    if (error.code == ENOTDIR || error.code == ELOOP) error.detail = "is not a directory";
    error.operation = "--base";
    return error;
  }
  if (options.backend == "btrfs") return linux_sys::btrfs::check_subvolume(base->get(), options.base);
  return {};
}

// What the volume manager snapshots: the base directory, or for lvm the
// origin's bare LV name (its VG is the manager's).
inline std::string snapshot_origin(const RunOptions& options) {
  return options.lvm ? options.base.substr(options.base.find('/') + 1) : options.base;
}

inline int run_command(RunOptions options) {
  if (Status base = check_base(options); !base) return print_error(exit_bad_input, base.error().message());
  for (const auto& file : options.copy_in) {
    auto st = linux_sys::stat_path(file);
    if (!st) return print_error(exit_bad_input, fmt::format("--copy-in: {}", st.error().message()));
    if (!S_ISREG(st->st_mode)) return print_error(exit_bad_input, fmt::format("--copy-in {}: is not a regular file", file));
  }
  StateDirs dirs(options.state_dir);
  if (Status prepared = prepare(dirs); !prepared) return print_error(exit_sandbox_failed, prepared.error().message());
  // Held until the process exits: the session, its teardown and its proofs
  // all end before the lock goes.
  auto lease = lease_user_namespace(options.userns);
  if (!lease) return print_error(exit_sandbox_failed, lease.error().message());
  const IdRange user_namespace = *lease ? (*lease)->range : IdRange{};
  options.user_namespace = user_namespace;
  return with_policies(options, dirs, [&](auto& volumes, auto& mounter, auto& supervisor, auto& journal) {
    SessionConfig config;
    config.run_dir = dirs.mounts;
    config.deadline = Millis{static_cast<Millis::rep>(options.timeout_seconds * 1000)};
    config.grace = Millis{static_cast<Millis::rep>(options.grace_seconds * 1000)};
    config.limits = supervisor_limits(options.limits);
    Session session(volumes, mounter, supervisor, journal, config, random_nonce);
    // Named after the session once it has claimed its name: before that, reap could not know of the file.
    std::string log_path = options.log;
    auto log = CappedLog::open(options.log_cap_mib << 20);
    if (!log) return print_error(exit_sandbox_failed, log.error().message());
    BuildRequest request{snapshot_origin(options), options.command, "", sandbox_isolation(options),
                         (*log)->build_end()};
    Report finished = run_interruptible(session, std::move(request), [&] {
      if (log_path.empty()) log_path = session_log_path(dirs, session.name());
      if (Status attached = (*log)->attach(log_path, /*append=*/!options.log.empty()); !attached) return attached;
      return copy_in(session.plan().mount_point, options.copy_in);
    });
    RunOutput output{options.log, (*log)->finish(), (*log)->cap_bytes(), {}};
    // The state dir's log goes once its end is in the report: --log keeps one.
    if (options.log.empty() && !log_path.empty()) {
      output.tail = read_log_tail(log_path);
      ::unlink(log_path.c_str());
    }
    return report_and_exit(finished, options, user_namespace, output);
  });
}

}  // namespace snapcell::cli
