#pragma once
// `snapcell reap`: cleans what a killed `snapcell` left behind. Each record
// names its backend and supervisor; reap runs once per combination, and each
// pass leaves the other kinds' records alone.

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/exit_codes.hpp"
#include "cli/interruptible.hpp"
#include "cli/json_report.hpp"
#include "cli/policies.hpp"
#include "cli/run_options.hpp"
#include "cli/session_log.hpp"
#include "cli/state.hpp"
#include "snapcell/journal.hpp"
#include "snapcell/linux/directory_journal.hpp"
#include "snapcell/reap.hpp"

namespace snapcell::cli {

// The VGs the journal's lvm sessions snapshotted in, read from their mount
// source (/dev/VG/NAME, recorded once lvcreate has made the LV), added to
// those given with --vg. A record without one (the controller died between
// lvcreate and the journal's update) is named: only --vg can reach it.
inline std::vector<std::string> volume_groups_to_reap(const std::string& journal_dir, std::vector<std::string> given) {
  linux_sys::DirectoryJournal journal(journal_dir);
  auto names = journal.names();
  if (!names) return given;
  for (const auto& name : *names) {
    auto text = journal.read(name);
    if (!text) continue;
    auto plan = parse_plan(*text);
    if (!plan || plan->volumes_kind != linux_sys::LvmVolumes::kind) continue;
    const std::string_view source = plan->mount_source;
    const auto vg_end = source.rfind('/');
    if (source.rfind("/dev/", 0) != 0 || vg_end == std::string_view::npos || vg_end <= 5) {
      if (given.empty())
        fmt::print(stderr, "snapcell reap: lvm session {} recorded no volume group; give it with --vg\n", name);
      continue;
    }
    std::string vg(source.substr(5, vg_end - 5));
    if (!linux_sys::validate_lvm_name("volume group", vg)) continue;
    if (std::find(given.begin(), given.end(), vg) == given.end()) given.push_back(vg);
  }
  return given;
}

struct ReapOptions {
  std::string state_dir = "/run/snapcell";
  std::string cgroup_parent = default_cgroup_parent();
  std::string snapshot_dir;  // btrfs: where that backend's snapshots are
  std::vector<std::string> volume_groups;  // lvm: the VGs whose snapcell-* snapshots the journal names
  bool json = false;
};

inline int reap_command(const ReapOptions& reap_options) {
  for (const auto& vg : reap_options.volume_groups)
    if (Status valid = linux_sys::validate_lvm_name("--vg", vg); !valid) return print_error(exit_bad_input, valid.error().message());
  StateDirs dirs(reap_options.state_dir);
  // Reap makes nothing: no journal means no session ever ran with this state dir.
  if (::access(dirs.journal.c_str(), F_OK) != 0) {
    if (reap_options.json) std::puts(R"({"schema": "snapcell.reap/1", "sessions": [], "live": []})");
    else fmt::print("nothing to reap: no journal at {}\n", dirs.journal);
    return exit_ok;
  }
  nlohmann::ordered_json sessions = nlohmann::ordered_json::array();
  std::vector<std::string> live;
  int reaped_count = 0;
  int left = 0;
  int errors = 0;
  // One pass per backend location: lvm once per VG given, btrfs only with its snapshot dir.
  std::vector<std::pair<std::string_view, std::string>> passes;
  for (std::string_view backend : backends) {
    if (!compiled_in(only_backend, backend)) continue;
    if (backend == "btrfs" && reap_options.snapshot_dir.empty()) continue;
    if (backend == "lvm") {
      for (const auto& vg : volume_groups_to_reap(dirs.journal, reap_options.volume_groups)) passes.emplace_back(backend, vg);
      continue;
    }
    passes.emplace_back(backend, "");
  }
  for (const auto& [backend, volume_group] : passes) {
    for (std::string_view supervisor : supervisors) {
      if (!compiled_in(only_supervisor, supervisor)) continue;
      RunOptions options;
      options.backend = std::string(backend);
      options.supervisor = std::string(supervisor);
      options.state_dir = reap_options.state_dir;
      options.cgroup_parent = reap_options.cgroup_parent;
      options.snapshot_dir = reap_options.snapshot_dir;
      options.base = "/";
      if (backend == "lvm")  // removal and the ownership proof need only the VG: mode and filesystem do not matter
        options.lvm = linux_sys::LvmConfig{volume_group, linux_sys::LvmSnapshotMode::classic, "64m", "ext4",
                                           lvm_options_for_this_host()};
      with_policies(options, dirs, [&](auto& volumes, auto& mounter, auto& supervisor_policy, auto& journal) {
        ReapConfig config{"snapcell", dirs.mounts, Millis{2'000}};
        ReapReport reaped = reap(Policies{volumes, mounter, supervisor_policy}, journal, config);
        for (const Report& report : reaped.sessions) {
          ++reaped_count;
          if (!report.clean()) ++left;
          // The output a killed `run` or `build` left in the state dir, under the session's name.
          else if (is_session_name("snapcell", report.session)) (void)::unlink(session_log_path(dirs, report.session).c_str());
          if (reap_options.json) sessions.push_back(report_to_json(report, options.backend, options.supervisor));
          else std::fputs(format_report(report).c_str(), stdout);
        }
        for (const Error& error : reaped.errors) {
          ++errors;
          fmt::print(stderr, "snapcell reap: {}\n", one_line(error.message()));
        }
        if (backend == passes.front().first && supervisor == supervisors[0]) live = reaped.live;
        return 0;
      });
    }
  }
  if (reap_options.json) {
    nlohmann::ordered_json out;
    out["schema"] = "snapcell.reap/1";
    out["sessions"] = sessions;
    out["live"] = live;
    // A signal does not cut a reap short (it is the cleanup): it is reported, and the exit code is 128 + N.
    out["outcome"] = interrupted() ? "interrupted" : "completed";
    out["signal"] = interrupted() ? nlohmann::ordered_json(linux_sys::signal_name(interrupted())) : nlohmann::ordered_json();
    std::puts(out.dump(2).c_str());
  } else {
    fmt::print("reaped {} session(s), {} left with remains, {} live left alone\n", reaped_count, left, live.size());
  }
  if (interrupted()) return interrupted_exit(interrupted());
  return left == 0 && errors == 0 ? exit_ok : exit_sandbox_failed;
}

}  // namespace snapcell::cli
