#pragma once
// What a base holds, read from its own dpkg status file (no program of the
// base is run): the versions of the packages a Python build depends on, so
// that `base list` can say which base builds what.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "cli/state.hpp"
#include "snapcell/linux/sys.hpp"

namespace snapcell::cli {

// The Debian packages whose versions `base list` shows.
inline const std::vector<std::string>& reported_packages() {
  static const std::vector<std::string> packages{"python3", "python3-setuptools", "python3-pip"};
  return packages;
}

// Package -> version of every installed package of `wanted`, from
// <root>/var/lib/dpkg/status (stanzas of "Field: value" lines). A base
// without one (imported from a non-Debian tree) has none.
inline std::map<std::string, std::string> installed_versions(const std::string& root,
                                                             const std::vector<std::string>& wanted) {
  std::map<std::string, std::string> versions;
  auto text = linux_sys::read_file(join_path(root, "var/lib/dpkg/status"));
  if (!text) return versions;
  std::string package, version;
  bool installed = false;
  auto settle = [&] {
    for (const auto& name : wanted)
      if (name == package && installed && !version.empty()) versions[name] = version;
    package.clear(), version.clear(), installed = false;
  };
  std::string_view rest = *text;
  while (!rest.empty()) {
    const auto end = rest.find('\n');
    const std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    if (line.empty()) settle();
    else if (line.starts_with("Package: ")) package = line.substr(9);
    else if (line.starts_with("Version: ")) version = line.substr(9);
    else if (line.starts_with("Status: ")) installed = line.ends_with(" installed");
  }
  settle();
  return versions;
}

// A Debian package name as debootstrap's --include takes it (policy 5.6.1).
inline bool is_debian_package_name(std::string_view name) {
  if (name.size() < 2 || name.size() > 128) return false;
  auto plain = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!plain(name.front())) return false;
  for (char c : name)
    if (!plain(c) && c != '+' && c != '-' && c != '.') return false;
  return true;
}

}  // namespace snapcell::cli
