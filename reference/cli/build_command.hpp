#pragma once
// `snapcell build SDIST --base NAME|DIR`: one Python sdist to wheels in a
// throwaway snapshot. The archive is checked before it goes anywhere near
// the chroot; the build runs as an ordinary user of a user namespace of its
// own (build_identity.hpp), in a network namespace with only loopback, with
// no_new_privs and the supervisor's limits; the wheels are read out only
// after every build process is proven gone, and
// checked again on the way out; then the builder looks at the machine
// itself (build_proof.hpp) instead of trusting the session's report.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "cli/archive_module.hpp"
#include "cli/base_store.hpp"
#include "cli/build_options.hpp"
#include "cli/build_driver.hpp"
#include "cli/build_proof.hpp"
#include "cli/build_report.hpp"
#include "cli/build_identity.hpp"
#include "cli/capped_log.hpp"
#include "cli/copy_in.hpp"
#include "cli/exit_codes.hpp"
#include "cli/interruptible.hpp"
#include "cli/policies.hpp"
#include "cli/run_command.hpp"
#include "cli/session_log.hpp"
#include "cli/state.hpp"
#include "cli/wheel_out.hpp"
#include "snapcell/session.hpp"

namespace snapcell::cli {

// Where --wheelhouse's wheels are, inside the sandbox.
inline constexpr const char* wheelhouse_dir_name = "wheelhouse";
inline constexpr const char* wheelhouse_in_sandbox = "/wheelhouse";
inline constexpr std::size_t max_wheelhouse_wheels = 256;

// The wheels of --wheelhouse DIR (its *.whl regular files), checked before
// anything is created; none when no wheelhouse was given.
inline Result<std::vector<std::string>> wheelhouse_files(const std::string& dir) {
  std::vector<std::string> wheels;
  if (dir.empty()) return wheels;
  auto fd = linux_sys::open_fd(dir, O_RDONLY | O_DIRECTORY);
  if (!fd) {
    Error error = fd.error();
    error.operation = "--wheelhouse";
    if (error.code == ENOTDIR) error.detail = "is not a directory";
    return error;
  }
  auto names = linux_sys::list_names_at(fd->get(), dir);
  if (!names) return names.error();
  for (const auto& name : *names) {
    if (!name.ends_with(".whl") || name.front() == '.') continue;
    if (Status valid = linux_sys::validate_entry_name("--wheelhouse wheel", name); !valid) return valid.error();
    struct stat st {};
    if (::fstatat(fd->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return errno_error("--wheelhouse", dir + "/" + name);
    if (!S_ISREG(st.st_mode)) return logic_error("--wheelhouse", dir + "/" + name, "is not a regular file");
    wheels.push_back(dir + "/" + name);
  }
  if (wheels.empty()) return logic_error("--wheelhouse", dir, "holds no .whl file");
  if (wheels.size() > max_wheelhouse_wheels)
    return logic_error("--wheelhouse", dir, fmt::format("holds {} wheels, more than {}", wheels.size(), max_wheelhouse_wheels));
  std::sort(wheels.begin(), wheels.end());
  return wheels;
}

struct ResolvedBase {
  std::string name;  // empty for a directory or an origin LV given as such
  std::string root;  // the tree builds snapshot; for lvm the origin, VG/LV
  std::optional<double> creation_seconds;
  std::optional<linux_sys::LvmConfig> lvm;  // lvm: what the origin's probe found (check_base)
  linux_sys::UniqueFd hold;  // shared lock: `base rm` waits for this build
};

// A named base serves the backends its record says it was made for.
inline Status check_base_serves(const BaseInfo& info, const std::string& backend) {
  auto refuse = [&](std::string why) { return Status{logic_error("--base", info.name, std::move(why))}; };
  if (info.backend == "btrfs" && backend != "btrfs") return refuse("is a btrfs base: build it with --backend btrfs");
  if (info.backend == "lvm" && backend != "lvm") return refuse("is an lvm base (an origin LV): build it with --backend lvm");
  if (info.backend != "btrfs" && backend == "btrfs") return refuse("is not a btrfs base: use --backend overlay or copy");
  if (info.backend != "lvm" && backend == "lvm")
    return refuse(fmt::format("is a {} base, not an origin LV: use --backend overlay or copy, or --base VG/LV", info.backend));
  return {};
}

inline Result<ResolvedBase> resolve_base(const BuildOptions& options) {
  ResolvedBase base;
  if (options.base.find('/') != std::string::npos) {  // a directory, or an origin LV (VG/LV)
    base.root = options.base;
  } else {
    BaseStore store(options.bases_dir);
    auto info = store.find(options.base);
    if (!info) return info.error();
    if (Status serves = check_base_serves(*info, options.backend); !serves) return serves.error();
    auto held = store.hold(options.base, /*exclusive=*/false);
    if (!held) return held.error();
    base.name = info->name;
    base.root = info->root;
    base.creation_seconds = info->creation_seconds;
    base.hold = std::move(*held);
  }
  RunOptions as_run;
  as_run.base = base.root;
  as_run.backend = options.backend;
  as_run.cow_size = options.cow_size;
  as_run.limits = options.limits;
  if (Status checked = check_base(as_run); !checked) return checked.error();
  base.lvm = as_run.lvm;
  return base;
}

inline RunOptions policy_options(const BuildOptions& options, const ResolvedBase& base, const IdRange& user_namespace) {
  RunOptions run;
  run.userns = options.userns;
  run.user_namespace = user_namespace;
  run.base = base.root;
  run.backend = options.backend;
  run.lvm = base.lvm;
  run.cow_size = options.cow_size;
  run.limits = options.limits;
  run.supervisor = options.supervisor;
  run.state_dir = options.state_dir;
  run.snapshot_dir = options.snapshot_dir;
  run.cgroup_parent = options.cgroup_parent;
  return run;
}

// /build (owned by the build's user) with the sdist in it, and the
// wheelhouse's wheels in /wheelhouse (root's: the build reads them), before
// the spawn.
inline Status stage_sdist(const std::string& mount_point, const std::string& sdist, const std::string& file_name,
                          const BuildIdentity& identity, const std::vector<std::string>& wheelhouse) {
  auto root = linux_sys::open_fd(mount_point, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!root) return root.error();
  auto owners = disk_owners(identity, root->get(), mount_point);
  if (!owners) return owners.error();
  const std::uint32_t uid = owners->build;
  auto build = directory_in(root->get(), "build", mount_point + "/build", uid, uid);
  if (!build) return build.status();
  if (Status copied = copy_file_into(build->get(), sdist, file_name, mount_point + "/build/" + file_name, uid, uid);
      !copied)
    return copied;
  if (wheelhouse.empty()) return {};
  auto house = directory_in(root->get(), wheelhouse_dir_name, mount_point + wheelhouse_in_sandbox, owners->root,
                            owners->root);
  if (!house) return house.status();
  for (const auto& wheel : wheelhouse) {
    const std::string name = std::filesystem::path(wheel).filename().string();
    if (Status copied = copy_file_into(house->get(), wheel, name, mount_point + wheelhouse_in_sandbox + "/" + name);
        !copied)
      return copied;
  }
  return {};
}

inline void move_log(const std::string& from, const std::string& to) {
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(to).parent_path(), error);
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing, error);
  std::filesystem::remove(from, error);
}

inline bool step_done(const Report& report, std::string_view step) {
  for (const auto& s : report.steps)
    if (s.step == step) return s.outcome == Outcome::done;
  return false;
}

inline int build_command(const BuildOptions& options) {
  namespace fs = std::filesystem;
  BuildResult result;
  result.backend = options.backend;
  result.supervisor = options.supervisor;
  std::error_code path_error;
  result.sdist_path = fs::absolute(options.sdist, path_error).lexically_normal().string();
  const std::string out_dir = fs::absolute(options.out, path_error).lexically_normal().string();

  auto sdist = inspect_sdist(result.sdist_path);
  // A module that will not load is this installation's fault, not the sdist's.
  if (!sdist) return print_error(archive_module() ? exit_bad_input : exit_sandbox_failed, sdist.error().message());
  result.sdist = *sdist;
  auto base = resolve_base(options);
  if (!base) return print_error(exit_bad_input, base.error().message());
  auto wheelhouse = wheelhouse_files(options.wheelhouse);
  if (!wheelhouse) return print_error(exit_bad_input, wheelhouse.error().message());
  result.base_name = base->name;
  result.base_root = base->root;
  result.base_creation_seconds = base->creation_seconds;

  StateDirs dirs(options.state_dir);
  if (Status prepared = prepare(dirs); !prepared) return print_error(exit_sandbox_failed, prepared.error().message());
  const std::uint64_t nonce = random_nonce();
  auto identity = lease_build_identity(options.userns, nonce);
  if (!identity) return print_error(exit_sandbox_failed, identity.error().message());
  result.uid = identity->uid;
  result.host_uid = identity->host_uid();
  result.user_namespace = identity->user_namespace;
  const std::string file_name = fs::path(result.sdist_path).filename().string();

  Sentinel sentinel;
  const RunOptions run = policy_options(options, *base, identity->user_namespace);
  result.limits = sandbox_limits(run, /*host_root=*/false);
  return with_policies(run, dirs, [&](auto& volumes, auto& mounter, auto& supervisor, auto& journal) {
    SessionConfig config;
    config.run_dir = dirs.mounts;
    config.deadline = Millis{static_cast<Millis::rep>(options.timeout_seconds * 1000)};
    config.grace = Millis{static_cast<Millis::rep>(options.grace_seconds * 1000)};
    config.limits = supervisor_limits(options.limits);
    Session session(volumes, mounter, supervisor, journal, config, random_nonce);
    std::string state_log;  // named after the session once it has claimed its name
    auto log = CappedLog::open(options.log_cap_mib << 20);
    if (!log) return print_error(exit_sandbox_failed, log.error().message());

    Isolation isolation;
    isolation.user_namespace = identity->user_namespace;
    isolation.uid = identity->uid;
    isolation.gid = identity->uid;
    isolation.private_network = true;
    isolation.working_dir = "/build";
    BuildRequest request{snapshot_origin(run),
                         {"/bin/sh", "-c", build_script, "sh", file_name, result.sdist.top_dir, build_driver,
                          wheelhouse->empty() ? "" : wheelhouse_in_sandbox,
                          options.supervisor == "default" || options.supervisor == "pidns" ? "pidns" : ""},
                         "", isolation, (*log)->build_end()};
    std::uint64_t network_namespace = 0;
    std::vector<std::string> unit_cgroups;
    Report progress;
    // Between steps, and in the wait, a signal ends it all in the teardown below (I9).
    if (!interrupted() && session.begin(std::move(request)) && !interrupted() && session.setup() && !interrupted()) {
      Status staged = timed(progress, "stage", [&] {
        state_log = session_log_path(dirs, session.name());
        if (Status attached = (*log)->attach(state_log, /*append=*/false); !attached) return attached;
        return stage_sdist(session.plan().mount_point, result.sdist_path, file_name, *identity, *wheelhouse);
      });
      if (!staged) result.errors.push_back(staged.error());
      if (staged && !interrupted() && session.start()) {
        if (const auto& unit = session.unit(); unit && unit->pid > 0) {
          network_namespace = network_namespace_of(unit->pid);
          unit_cgroups = {unit->cgroup_dir, unit->pids_v1_dir, unit->memory_v1_dir};
        }
        if (session.wait() && !interrupted() && session.stop() && !interrupted()) {
          auto collected = timed(progress, "collect", [&] {
            return collect_wheels(session.plan().mount_point, result.sdist.project, result.sdist.version, out_dir,
                                  session.name());
          });
          if (collected) result.outputs = *collected;
          else result.errors.push_back(collected.error());
          auto driver = read_driver_reports(session.plan().mount_point);
          if (driver) result.driver = *driver;
          else result.errors.push_back(driver.error());
        }
      }
    }
    result.report = session.teardown();
    result.log_dropped_bytes = (*log)->finish().dropped;
    result.report.interrupted_by = interrupted();
    for (const auto& [phase, ms] : progress.phase_ms) result.report.phase_ms.emplace_back(phase, ms);

    CleanupProof& proof = result.cleanup;
    proof.processes_left = processes_with_uid_in(identity->host_ids());
    proof.mounts_left = result.report.session.empty() ? 0 : mounts_naming(result.report.session);
    proof.cgroups_left = cgroups_present(unit_cgroups);
    proof.network_namespaces_left = holders_of_network_namespace(network_namespace) > 0 ? 1 : 0;
    proof.volume_removed = step_done(result.report, "remove") || result.report.session.empty();
    proof.sentinel_alive = sentinel.alive();
    proof.containment_proven = result.report.containment_proven;

    const std::string session_name = result.report.session.empty() ? fmt::format("build-{}", identity->host_uid())
                                                                   : result.report.session;
    result.log = fmt::format("{}/{}-{}.{}.log", out_dir, result.sdist.project, result.sdist.version, session_name);
    if (fs::exists(state_log)) move_log(state_log, result.log);
    else result.log.clear();

    if (options.json) std::puts(build_to_json(result).dump(2).c_str());
    else std::fputs(build_to_text(result).c_str(), stdout);
    return result.exit_code();
  });
}

}  // namespace snapcell::cli
