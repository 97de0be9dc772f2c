#pragma once
// This host's cgroup layout, read once (snapcell/linux/cgroup_layout.hpp):
// the CLI's default cgroup parent and the hierarchies its supervisors use
// follow it, so a pure cgroup v2 host and a hybrid one both work unchanged.

#include <string>

#include "snapcell/linux/cgroup_layout.hpp"

namespace snapcell::cli {

// The layout, or the error that says why there is none (no cgroup2 mount).
inline const Result<linux_sys::CgroupLayout>& host_cgroups() { return linux_sys::host_cgroup_layout(); }

// <v2 mount>/snapcell.slice; empty when there is no v2 hierarchy (then the
// commands that need one refuse with host_cgroups()'s error).
inline std::string default_cgroup_parent() { return host_cgroups() ? host_cgroups()->default_parent() : std::string(); }

}  // namespace snapcell::cli
