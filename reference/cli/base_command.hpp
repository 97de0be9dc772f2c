#pragma once
// `snapcell base create|list|rm`: the named bases builds start from.

#include <cstdio>
#include <map>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/base_create.hpp"
#include "cli/base_packages.hpp"
#include "cli/base_store.hpp"
#include "cli/build_options.hpp"
#include "cli/exit_codes.hpp"
#include "cli/lvm_base.hpp"
#include "cli/lvm_base_create.hpp"

namespace snapcell::cli {

struct BaseOptions {
  std::string bases_dir = default_bases_dir;
  BaseCreateOptions create;
  std::string name;  // list: unused; rm: the base
  bool json = false;
};

// --vg, --thin-pool and --size: syntax only (lvm is asked later, before
// anything is made). Names are lvm's rule, so none can become an option.
inline Status validate_lvm_create(const BaseCreateOptions& create) {
  if (create.backend != "lvm") {
    for (const auto& [option, value] : {std::pair{"--vg", &create.volume_group}, std::pair{"--thin-pool", &create.thin_pool},
                                        std::pair{"--size", &create.size}})
      if (!value->empty()) return logic_error(option, *value, "is for --backend lvm");
    return {};
  }
  if (create.volume_group.empty()) return logic_error("--vg", "", "is required with --backend lvm: the volume group the base's LV goes in");
  if (Status vg = linux_sys::validate_lvm_name("volume group", create.volume_group); !vg) return vg;
  if (!create.thin_pool.empty())
    if (Status pool = linux_sys::validate_lvm_name("thin pool", create.thin_pool); !pool) return pool;
  if (!create.size.empty())
    if (Status size = validate_lvm_size("--size", create.size); !size) return size;
  // The LV takes the base's name: snapcell-* would put it among the
  // sessions' snapshots, which reap may remove.
  if (create.name.rfind("snapcell-", 0) == 0)
    return logic_error("base name", create.name, "an lvm base's LV takes its name, and snapcell-* is for snapshots");
  return {};
}

inline Status validate(const BaseOptions& options) {
  if (Status dir = validate_absolute_path("--bases-dir", options.bases_dir); !dir) return dir;
  const auto& create = options.create;
  if (create.backend != "overlay" && create.backend != "btrfs" && create.backend != "lvm")
    return logic_error("--backend", create.backend, "a base is for overlay (and copy), btrfs or lvm");
  if (Status lvm = validate_lvm_create(create); !lvm) return lvm;
  for (unsigned char c : create.suite)
    if (!(std::islower(c) || std::isdigit(c) || c == '-'))
      return logic_error("--suite", create.suite, "is not a Debian suite name");
  if (!create.from.empty())
    if (Status from = validate_absolute_path("--from", create.from); !from) return from;
  for (const auto& package : create.include)
    if (!is_debian_package_name(package))
      return logic_error("--include", package, "is not a Debian package name (a-z, 0-9, '+', '-', '.')");
  if (!create.include.empty() && !create.from.empty())
    return logic_error("--include", "", "adds packages to a debootstrap; an imported base (--from) has what it has");
  if (!create.mirror.empty() && create.mirror.rfind("http://", 0) != 0 && create.mirror.rfind("https://", 0) != 0 &&
      create.mirror.rfind("file:/", 0) != 0)
    return logic_error("--mirror", create.mirror, "must be an http(s):// or file:/ URL");
  return {};
}

inline int base_create_command(const BaseOptions& options) {
  if (Status valid = validate_base_name(options.create.name); !valid) return print_error(exit_bad_input, valid.error().message());
  if (!options.create.from.empty()) {
    auto st = linux_sys::stat_path(options.create.from);
    if (!st || !S_ISDIR(st->st_mode)) return print_error(exit_bad_input, fmt::format("--from {}: not a directory", options.create.from));
  }
  BaseStore store(options.bases_dir);
  if (auto existing = store.find(options.create.name); existing)
    return print_error(exit_bad_input, fmt::format("base {} already exists in {}", options.create.name, store.dir()));
  if (options.create.backend == "lvm")
    if (Status target = check_lvm_base_target(options.create); !target) {
      // A missing VG or pool, or a name taken, is bad input; lvm not
      // running at all (EIO and the like) is the machine's.
      const int why = target.code();
      const bool refused = why == 0 || why == ENOENT || why == EEXIST || why == EINVAL;
      return print_error(refused ? exit_bad_input : exit_sandbox_failed, target.error().message());
    }
  auto made = options.create.backend == "lvm" ? create_lvm_base(store, options.create) : create_base(store, options.create);
  if (!made) return print_error(interrupted() ? interrupted_exit(interrupted()) : exit_sandbox_failed, made.error().message());
  if (options.json) std::puts(to_json(*made).dump(2).c_str());
  else fmt::print("{} {} created in {:.1f} s: {}\n", made->name, made->backend, made->creation_seconds, made->root);
  return exit_ok;
}

// An lvm base's tree is inside its LV: not read (that would need a mount),
// so its versions show as "-".
inline std::map<std::string, std::string> versions_of(const BaseInfo& base) {
  if (base.backend == "lvm") return {};
  return installed_versions(base.root, reported_packages());
}

inline int base_list_command(const BaseOptions& options) {
  auto bases = BaseStore(options.bases_dir).list();
  if (!bases) return print_error(exit_sandbox_failed, bases.error().message());
  if (options.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& base : *bases) {
      auto entry = to_json(base);
      entry["packages"] = versions_of(base);
      list.push_back(entry);
    }
    std::puts(list.dump(2).c_str());
    return exit_ok;
  }
  for (const auto& base : *bases) {
    const auto versions = versions_of(base);
    auto version_of = [&](const std::string& package) {
      const auto found = versions.find(package);
      return found == versions.end() ? std::string("-") : found->second;
    };
    std::string extra;
    for (const auto& package : base.extra_packages) extra += (extra.empty() ? "" : ",") + package;
    fmt::print("{:<24} {:<8} {:<10} python3 {:<12} setuptools {:<12} {:>8.1f} s  {}  {}{}\n", base.name,
               base.backend, base.suite.empty() ? "-" : base.suite, version_of("python3"),
               version_of("python3-setuptools"), base.creation_seconds, base.created_at, base.source,
               extra.empty() ? "" : "  +" + extra);
  }
  return exit_ok;
}

inline int base_rm_command(const BaseOptions& options) {
  if (Status valid = validate_base_name(options.name); !valid) return print_error(exit_bad_input, valid.error().message());
  Status removed = BaseStore(options.bases_dir).remove(options.name);
  if (!removed) {
    // Refusals (no such base, in use) change nothing: bad input, like a wrong name.
    const int why = removed.code();
    const int code = why == ENOENT || why == EBUSY || why == 0 ? exit_bad_input : exit_sandbox_failed;
    return print_error(code, removed.error().message());
  }
  fmt::print("{} removed\n", options.name);
  return exit_ok;
}

}  // namespace snapcell::cli
