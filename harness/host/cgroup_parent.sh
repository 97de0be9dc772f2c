# Sourced by the shell tests and bench/compare: where this host's cgroup
# hierarchies are, found by filesystem type in the mount table (as the C++
# host layer, include/snapcell/linux/cgroup_layout.hpp, does), never by a
# spelled-out path. The same test then runs on a hybrid host (v2 at
# .../unified, v1 pids and memory beside it) and on a pure v2 one.

# The v2 hierarchy: where snapcell makes its session cgroups.
cgroup_v2_mount() { findmnt -rn -t cgroup2 -o TARGET | head -1; }

# The v1 hierarchy of a controller (pids or memory); nothing on a pure v2 host.
cgroup_v1_mount() { findmnt -rn -t cgroup -O "$1" -o TARGET | head -1; }

# A test's --cgroup-parent: LEAF in the v2 hierarchy.
test_cgroup_parent() { echo "$(cgroup_v2_mount)/$1"; }

# Every directory snapcell makes for the parent LEAF: the v2 one and, on a
# hybrid host, its twins in the v1 pids and memory hierarchies.
cgroup_parent_dirs() {
  local mount
  for mount in "$(cgroup_v2_mount)" "$(cgroup_v1_mount pids)" "$(cgroup_v1_mount memory)"; do
    [[ -n "$mount" ]] && echo "$mount/$1"
  done
  return 0
}

# Removes those directories (empty ones: rmdir never takes a live cgroup).
remove_test_cgroup_parent() {
  local dir
  for dir in $(cgroup_parent_dirs "$1"); do
    [[ -d "$dir" ]] && rmdir "$dir"
  done
  return 0
}
