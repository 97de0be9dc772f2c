#pragma once
// One build's cgroup: a leaf directory under a dedicated parent that the
// operator made (never the root of a hierarchy, never a cgroup of anyone
// else), and what the kernel offers on it: limits, the member list,
// `populated` as the proof of emptiness, `cgroup.kill`, the freezer, rmdir.
//
// Hosts in "hybrid" mode mount the v2 hierarchy beside v1 ones and leave the
// pids and memory controllers on v1 (this is what Debian 10 and many cloud
// images do). Membership and killing always go through v2 (that is where
// cgroup.kill and `populated` live); limits are set on v2 where the parent
// delegates the controller, else on a matching leaf in the v1 hierarchy when
// the operator named a v1 parent, and EnforcedLimits says which one holds.

#include <dirent.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/linux/cgroup_text.hpp"
#include "snapcell/linux/sys.hpp"
#include "snapcell/names.hpp"
#include "snapcell/policies.hpp"

namespace snapcell::linux_sys {

inline constexpr long cgroup2_magic = 0x63677270;  // CGROUP2_SUPER_MAGIC, <linux/magic.h>
inline constexpr long cgroup1_magic = 0x27e0eb;    // CGROUP_SUPER_MAGIC

// Which of a SpawnSpec's Limits the kernel will actually enforce, and by what.
// An empty `*_by` means not enforced; `notes` says why, for the report.
struct EnforcedLimits {
  bool max_processes = false;
  bool max_memory = false;
  std::string processes_by;  // e.g. "<v1 pids mount>/x/y/pids.max (v1)"
  std::string memory_by;
  std::vector<std::string> notes;
};

// A leaf name is one path component that every hierarchy and our own
// space-separated records accept: no '/', not "." or "..", no whitespace or
// control characters.
inline Status validate_leaf_name(std::string_view name) {
  auto reject = [&](std::string_view why) {
    return Status{logic_error("validate cgroup leaf", std::string(name), std::string(why))};
  };
  if (name.empty()) return reject("is empty");
  if (name.size() > 255) return reject("is longer than NAME_MAX");
  if (name == "." || name == "..") return reject("is '.' or '..'");
  for (unsigned char c : name) {
    if (c == '/') return reject("is not a single path component");
    if (c <= 0x20 || c == 0x7f) return reject("contains whitespace or a control character");
  }
  return {};
}

// validate_absolute_path, and no spaces: cgroup paths go into one-line records.
inline Status validate_cgroup_dir(std::string_view what, std::string_view path) {
  if (Status valid = validate_absolute_path(what, path); !valid) return valid;
  if (path.find(' ') != std::string_view::npos)
    return logic_error(fmt::format("validate {}", what), std::string(path), "contains a space");
  return {};
}

inline std::string_view last_component(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// The path is a directory on a filesystem of the given magic (cgroup2 or v1).
inline Status check_cgroup_fs(const std::string& path, long magic) {
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) != 0) return errno_error("statfs", path);
  if (static_cast<long>(fs.f_type) != magic)
    return logic_error("statfs", path, magic == cgroup2_magic ? "not on a cgroup2 filesystem" : "not on a cgroup v1 filesystem");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errno_error("stat", path);
  if (!S_ISDIR(st.st_mode)) return errno_error("stat", path, ENOTDIR);
  return {};
}

// The path of `dir` inside the hierarchy mounted at `mount`, as
// /proc/PID/cgroup prints it. That equality assumes the reader's cgroup
// namespace root is the mount's root, which holds for a controller in the
// initial cgroup namespace (the only place a supervisor can run: it needs the
// host's hierarchy to make its parent).
inline Result<std::string> hierarchy_path(std::string_view mount, std::string_view dir) {
  if (dir.size() <= mount.size() || dir.substr(0, mount.size()) != mount || dir[mount.size()] != '/')
    return logic_error("cgroup path", std::string(dir), fmt::format("is not below the hierarchy at {}", mount));
  return std::string(dir.substr(mount.size()));
}

// mkdir(parent/name): the parent must exist, be a directory of the expected
// hierarchy kind, and not be the hierarchy's root (`mount`), so that a build
// only ever lands under a cgroup that was made for builds. EEXIST is an
// error: a leaf is made by one session only.
inline Result<std::string> create_leaf(const std::string& mount, const std::string& parent, std::string_view name,
                                       long magic) {
  if (Status valid = validate_leaf_name(name); !valid) return valid.error();
  if (Status valid = validate_cgroup_dir("cgroup parent", parent); !valid) return valid.error();
  if (auto below = hierarchy_path(mount, parent); !below) return below.error();
  if (Status fs = check_cgroup_fs(parent, magic); !fs) return fs.error();
  std::string leaf = parent + "/" + std::string(name);
  if (::mkdir(leaf.c_str(), 0755) != 0) return errno_error("mkdir", leaf);
  return leaf;
}

// Whether `path` is on a cgroup filesystem (v1 or v2); ENOENT when missing.
inline Result<bool> on_cgroup_fs(const std::string& path) {
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) != 0) return errno_error("statfs", path);
  const long type = static_cast<long>(fs.f_type);
  return type == cgroup2_magic || type == cgroup1_magic;
}

// The cgroups directly below `leaf` (a build may make its own): its
// subdirectories; every file in it is a control file. A leaf that is gone has
// none; any other failure, of opendir or of readdir, is reported.
inline Result<std::vector<std::string>> child_cgroups(const std::string& leaf) {
  DIR* dir = ::opendir(leaf.c_str());
  if (!dir) {
    if (errno == ENOENT) return std::vector<std::string>{};
    return errno_error("opendir", leaf);
  }
  std::vector<std::string> children;
  while (true) {
    errno = 0;
    const dirent* entry = ::readdir(dir);
    if (!entry) break;
    const std::string_view child = entry->d_name;
    if (entry->d_type == DT_DIR && child != "." && child != "..") children.emplace_back(child);
  }
  const int read_errno = errno;
  ::closedir(dir);
  if (read_errno != 0) return errno_error("readdir", leaf, read_errno);
  return children;
}

// rmdir of a leaf and of whatever cgroups the build made below it, deepest
// first (cgroupfs refuses rmdir of a cgroup that has children). ENOENT is
// success, so release is idempotent; EBUSY while any process remains. A path
// that is not on a cgroup filesystem is refused before anything is removed.
inline Status remove_leaf(const std::string& leaf) {
  auto cgroupfs = on_cgroup_fs(leaf);
  if (!cgroupfs) return cgroupfs.code() == ENOENT ? Status{} : cgroupfs.status();
  if (!*cgroupfs) return logic_error("rmdir", leaf, "not on a cgroup filesystem");
  auto children = child_cgroups(leaf);
  if (!children) return children.status();
  for (const auto& child : *children)
    if (Status removed = remove_leaf(leaf + "/" + child); !removed) return removed;
  if (::rmdir(leaf.c_str()) != 0 && errno != ENOENT) return errno_error("rmdir", leaf);
  return {};
}

// Members of a v2 cgroup and of its descendants. A leaf that does not exist
// has none.
inline Result<std::vector<Pid>> cgroup_members(const std::string& leaf) {
  auto text = read_file(leaf + "/cgroup.procs");
  if (!text) {
    if (text.code() == ENOENT) return std::vector<Pid>{};
    return text.error();
  }
  auto pids = linux_text::parse_cgroup_procs(*text);
  if (!pids) return pids.error();
  std::vector<Pid> members = std::move(*pids);
  auto children = child_cgroups(leaf);
  if (!children) return children.error();
  for (const auto& child : *children) {
    auto more = cgroup_members(leaf + "/" + child);
    if (!more) return more.error();
    members.insert(members.end(), more->begin(), more->end());
  }
  return members;
}

// `populated 1` while any live process is in the leaf or below it. A missing
// leaf is not populated.
inline Result<bool> cgroup_populated(const std::string& leaf) {
  auto text = read_file(leaf + "/cgroup.events");
  if (!text) {
    if (text.code() == ENOENT && !stat_path(leaf)) return false;
    return text.error();
  }
  auto events = linux_text::parse_cgroup_events(*text);
  if (!events) return events.error();
  return events->populated;
}

// SIGKILL to every process in the leaf and below, by the kernel, atomically
// with respect to forks (Linux 5.14+). A missing leaf has nothing to kill; a
// leaf without cgroup.kill (an older kernel) is an error, not a silent no-op.
inline Status cgroup_kill(const std::string& leaf) {
  auto cgroupfs = on_cgroup_fs(leaf);
  if (!cgroupfs) return cgroupfs.code() == ENOENT ? Status{} : cgroupfs.status();
  if (!*cgroupfs) return logic_error("cgroup.kill", leaf, "not on a cgroup filesystem");
  return write_file(leaf + "/cgroup.kill", "1");
}

inline Status cgroup_freeze(const std::string& leaf, bool frozen) {
  return write_file(leaf + "/cgroup.freeze", frozen ? "1" : "0");
}

// A v1 leaf and the mount of its hierarchy (e.g. ".../cgroup/pids"): the
// mount's last component names the controller to find in /proc/PID/cgroup.
struct V1Leaf {
  std::string mount;
  std::string leaf;
};

// Checks that `pid` is in each of `leaves`, as one read of /proc/PID/cgroup
// shows it.
inline Status check_v1_members(Pid pid, const std::vector<V1Leaf>& leaves) {
  if (leaves.empty()) return {};
  const std::string who = std::to_string(pid);
  auto text = read_file(fmt::format("/proc/{}/cgroup", pid));
  if (!text) return text.error();
  auto memberships = linux_text::parse_proc_cgroup(*text);
  if (!memberships) return memberships.error();
  for (const auto& [mount, leaf] : leaves) {
    if (!leaf.starts_with(mount + "/")) return logic_error("check v1 cgroup", leaf, fmt::format("is not below {}", mount));
    const std::string controller = mount.substr(mount.rfind('/') + 1);
    const std::string expected = leaf.substr(mount.size());
    const auto found = std::find_if(memberships->begin(), memberships->end(), [&](const auto& membership) {
      return std::find(membership.controllers.begin(), membership.controllers.end(), controller) !=
             membership.controllers.end();
    });
    if (found == memberships->end())
      return logic_error("check v1 cgroup", who, fmt::format("no {} hierarchy in /proc/{}/cgroup", controller, pid));
    if (found->path != expected)
      return logic_error("check v1 cgroup", who, fmt::format("in {} cgroup '{}', not '{}'", controller, found->path, expected));
  }
  return {};
}

namespace detail {
// Whether a controller list (cgroup.controllers, cgroup.subtree_control: names
// separated by spaces, a newline at the end) names `controller`.
inline bool controller_listed(std::string_view list, std::string_view controller) {
  for (auto word : linux_text::split(list, ' ')) {
    if (!word.empty() && word.back() == '\n') word.remove_suffix(1);
    if (word == controller) return true;
  }
  return false;
}
}  // namespace detail

inline bool controller_delegated(const std::string& parent, std::string_view controller) {
  auto text = read_file(parent + "/cgroup.subtree_control");
  return text && detail::controller_listed(*text, controller);
}

// Turns on, for the children of `parent`, those of `controllers` that the
// parent is offered (its cgroup.controllers) and does not yet pass on: on a
// pure v2 host (systemd's root offers pids and memory) this is what lets a
// build's leaf hold pids.max and memory.max at all. The parent is a
// dedicated one holding no process itself, so the kernel's "no internal
// processes" rule allows it. A controller the parent is not offered stays
// off; apply_limits then reports the limit as not enforced.
inline Status delegate_controllers(const std::string& parent, const std::vector<std::string_view>& controllers) {
  auto offered = read_file(parent + "/cgroup.controllers");
  if (!offered) return offered.error();
  std::string enable;
  for (auto controller : controllers)
    if (detail::controller_listed(*offered, controller) && !controller_delegated(parent, controller))
      enable += fmt::format("{}+{}", enable.empty() ? "" : " ", controller);
  if (enable.empty()) return {};
  return write_file(parent + "/cgroup.subtree_control", enable);
}

// The leaves one build uses; an empty path is a hierarchy not used.
struct CgroupLeaves {
  std::string unified;  // always, for a cgroup supervisor
  std::string pids_v1;
  std::string memory_v1;
};

// Writes the limits where a controller can enforce them, and says which.
// v2 first (the parent must list the controller in cgroup.subtree_control),
// then the v1 leaves; a limit no controller takes is reported, not faked.
inline Result<EnforcedLimits> apply_limits(const CgroupLeaves& leaves, const Limits& limits) {
  EnforcedLimits enforced;
  const std::string parent = parent_of(leaves.unified);
  // Both limits take the same road: v2, else v1, else a note. Returns the
  // file that holds the limit, or "" when no controller takes it.
  auto write_limit = [&](std::string_view limit, std::string_view controller, const std::string& value,
                         std::string_view v2_file, const std::string& v1_leaf,
                         std::string_view v1_file) -> Result<std::string> {
    if (controller_delegated(parent, controller)) {
      const std::string file = leaves.unified + "/" + std::string(v2_file);
      if (Status set = write_file(file, value); !set) return set.error();
      return file;
    }
    if (!v1_leaf.empty()) {
      const std::string file = v1_leaf + "/" + std::string(v1_file);
      if (Status set = write_file(file, value); !set) return set.error();
      return file + " (v1)";
    }
    enforced.notes.push_back(fmt::format(
        "{}: no {} controller in {}/cgroup.subtree_control and no v1 {} parent configured", limit, controller, parent,
        controller));
    return std::string();
  };
  if (limits.max_processes > 0) {
    auto by = write_limit("max_processes", "pids", std::to_string(limits.max_processes), "pids.max", leaves.pids_v1,
                          "pids.max");
    if (!by) return by.error();
    enforced.processes_by = *by;
  }
  if (limits.max_memory_bytes > 0) {
    auto by = write_limit("max_memory_bytes", "memory", std::to_string(limits.max_memory_bytes), "memory.max",
                          leaves.memory_v1, "memory.limit_in_bytes");
    if (!by) return by.error();
    enforced.memory_by = *by;
  }
  // RLIMIT_NPROC counts every process of a uid and root is exempt from it;
  // with no per-build uid it would bound nothing, so it is not claimed.
  enforced.notes.push_back("RLIMIT_NPROC: set in the sandbox only when the build has a uid of its own");
  enforced.max_processes = !enforced.processes_by.empty();
  enforced.max_memory = !enforced.memory_by.empty();
  return enforced;
}

}  // namespace snapcell::linux_sys
