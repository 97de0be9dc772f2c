#pragma once
// `snapcell base create|list|rm`: the named bases builds start from.

#include <cstdio>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/base_create.hpp"
#include "cli/base_packages.hpp"
#include "cli/base_store.hpp"
#include "cli/build_options.hpp"
#include "cli/exit_codes.hpp"

namespace snapcell::cli {

struct BaseOptions {
  std::string bases_dir = default_bases_dir;
  BaseCreateOptions create;
  std::string name;  // list: unused; rm: the base
  bool json = false;
};

inline Status validate(const BaseOptions& options) {
  if (Status dir = validate_absolute_path("--bases-dir", options.bases_dir); !dir) return dir;
  const auto& create = options.create;
  if (create.backend != "overlay" && create.backend != "btrfs")
    return logic_error("--backend", create.backend, "a base is for overlay (and copy) or btrfs");
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
  auto made = create_base(store, options.create);
  if (!made) return print_error(interrupted() ? interrupted_exit(interrupted()) : exit_sandbox_failed, made.error().message());
  if (options.json) std::puts(to_json(*made).dump(2).c_str());
  else fmt::print("{} {} created in {:.1f} s: {}\n", made->name, made->backend, made->creation_seconds, made->root);
  return exit_ok;
}

inline int base_list_command(const BaseOptions& options) {
  auto bases = BaseStore(options.bases_dir).list();
  if (!bases) return print_error(exit_sandbox_failed, bases.error().message());
  if (options.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& base : *bases) {
      auto entry = to_json(base);
      entry["packages"] = installed_versions(base.root, reported_packages());
      list.push_back(entry);
    }
    std::puts(list.dump(2).c_str());
    return exit_ok;
  }
  for (const auto& base : *bases) {
    const auto versions = installed_versions(base.root, reported_packages());
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
