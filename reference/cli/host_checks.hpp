#pragma once
// Checks of a host from OUTSIDE a session: what the kernel shows after a
// session ended, never the session's own account of itself. Used by
// `snapcell verify` and by its tests.
//
//   descendants()      live processes below this one (a child subreaper, so
//                      whatever a build orphans or double-forks away is
//                      reparented here and stays visible)
//   mount_table()      the host's mount table, to diff before and after
//   names_in()         a directory's entries (volumes, cgroups), to diff
//   tree_checksum()    a base's content and metadata, to prove it unchanged
//   tree_bytes()       the space a tree's files take (what a full copy costs)
//   HostState          the host's kernel state a root build could change
//                      (name, clock, sysctls, keys, SysV IPC, modules), to
//                      diff before and after a session and put back
//
// The probes a check needs in place while the session runs (sentinel
// processes, a host directory, a loopback listener, a sampler of peaks) are in
// host_probes.hpp.

#include <dirent.h>
#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <sstream>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "snapcell/linux/sys.hpp"
#include "snapcell/linux/tree.hpp"
#include "snapcell/names.hpp"

namespace snapcell::cli::host {

struct ProcessRow {
  Pid pid = 0;
  Pid ppid = 0;
  char state = '?';
  std::string comm;
};

// Every process /proc lists now. A process that goes while it is read is
// simply not listed.
inline std::vector<ProcessRow> process_rows() {
  std::vector<ProcessRow> rows;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return rows;
  while (const dirent* entry = ::readdir(dir)) {
    const Pid pid = static_cast<Pid>(std::strtol(entry->d_name, nullptr, 10));
    if (pid <= 0) continue;
    auto stat = linux_sys::read_file(fmt::format("/proc/{}/stat", pid));
    if (!stat) continue;
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so it
    // ends at the last ')'.
    const auto open = stat->find('(');
    const auto close = stat->rfind(')');
    if (open == std::string::npos || close == std::string::npos || close + 4 >= stat->size()) continue;
    ProcessRow row;
    row.pid = pid;
    row.comm = stat->substr(open + 1, close - open - 1);
    row.state = (*stat)[close + 2];
    row.ppid = static_cast<Pid>(std::strtol(stat->c_str() + close + 4, nullptr, 10));
    rows.push_back(std::move(row));
  }
  ::closedir(dir);
  return rows;
}

// Live (not zombie) processes whose parent chain reaches `ancestor`, except
// those in `spared` (the checker's own sentinels). Zombies hold nothing but a
// PID: they are reaped, not reported.
inline std::vector<ProcessRow> descendants(Pid ancestor, const std::set<Pid>& spared = {}) {
  const auto rows = process_rows();
  std::map<Pid, Pid> parent;
  for (const auto& row : rows) parent[row.pid] = row.ppid;
  std::vector<ProcessRow> found;
  for (const auto& row : rows) {
    if (row.state == 'Z' || row.state == 'X' || row.pid == ancestor || spared.count(row.pid)) continue;
    int hops = 0;
    for (Pid up = row.ppid; up > 0 && hops < 4096; ++hops) {
      if (up == ancestor) {
        found.push_back(row);
        break;
      }
      auto next = parent.find(up);
      up = next == parent.end() ? 0 : next->second;
    }
  }
  return found;
}

inline std::string describe(const std::vector<ProcessRow>& rows) {
  std::string text;
  for (const auto& row : rows) text += fmt::format("{}{} ({}, {})", text.empty() ? "" : ", ", row.pid, row.comm, row.state);
  return text;
}

// The host's mounts, one line each ("source on mount point type fs (id N)"):
// enough to tell one mount from another in a diff.
using MountTable = std::map<std::string, linux_text::MountInfoEntry>;

// mountinfo read while the table changes can show a mount twice or not at
// all (the kernel re-reads its list between read() calls); the parser then
// refuses it. Reading again gives a consistent table; a table that stays
// unreadable is an error, never an empty (and so "everything is new") table.
inline std::vector<linux_text::MountInfoEntry> read_mountinfo_settled() {
  Error last;
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto mounts = linux_sys::read_mountinfo();
    if (mounts) return std::move(mounts).value();
    last = mounts.error();
  }
  throw Failure(last);
}

inline MountTable mount_table() {
  MountTable table;
  auto mounts = read_mountinfo_settled();
  for (auto& entry : mounts) {
    std::string line = fmt::format("{} on {} type {} (id {})", entry.source, entry.mount_point, entry.fs_type, entry.mount_id);
    table.emplace(std::move(line), std::move(entry));
  }
  return table;
}

// The mounts in `after` and not in `before` that `relevant` accepts.
template <class Relevant>
std::vector<std::string> added(const MountTable& before, const MountTable& after, Relevant relevant) {
  std::vector<std::string> out;
  for (const auto& [line, entry] : after)
    if (!before.count(line) && relevant(entry)) out.push_back(line);
  return out;
}

// The names in a directory (empty when it does not exist).
inline std::set<std::string> names_in(const std::string& directory) {
  std::set<std::string> names;
  DIR* dir = ::opendir(directory.c_str());
  if (dir == nullptr) return names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.insert(name);
  }
  ::closedir(dir);
  return names;
}

// Subdirectories of a cgroup directory: the units still there.
inline std::set<std::string> child_cgroups(const std::string& parent) {
  std::set<std::string> children;
  for (const auto& name : names_in(parent)) {
    struct stat st {};
    if (::lstat(join_path(parent, name).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) children.insert(name);
  }
  return children;
}

// What is in `after` and not in `before`.
inline std::vector<std::string> added(const std::set<std::string>& before, const std::set<std::string>& after) {
  std::vector<std::string> out;
  for (const auto& item : after)
    if (!before.count(item)) out.push_back(item);
  return out;
}

namespace detail {

inline void mix(std::uint64_t& hash, const void* data, std::size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= 0x100000001b3ULL;  // FNV-1a
  }
}

inline void mix_tree(std::uint64_t& hash, const std::string& path, const std::string& relative, dev_t device) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    mix(hash, "?", 1);
    return;
  }
  mix(hash, relative.data(), relative.size());
  // ctime is the kernel's own: every write, chmod, rename or link count
  // change updates it, and no system call sets it back. With the content of
  // regular files, it makes "unchanged" hard to fake.
  const std::uint64_t facts[] = {st.st_mode, st.st_uid, st.st_gid, static_cast<std::uint64_t>(st.st_size),
                                 static_cast<std::uint64_t>(st.st_mtim.tv_sec), static_cast<std::uint64_t>(st.st_mtim.tv_nsec),
                                 static_cast<std::uint64_t>(st.st_ctim.tv_sec), static_cast<std::uint64_t>(st.st_ctim.tv_nsec)};
  mix(hash, facts, sizeof facts);
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    const ssize_t n = ::readlink(path.c_str(), target, sizeof target);
    if (n > 0) mix(hash, target, static_cast<std::size_t>(n));
  } else if (S_ISREG(st.st_mode)) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    char buffer[65536];
    for (ssize_t n; fd >= 0 && (n = ::read(fd, buffer, sizeof buffer)) > 0;) mix(hash, buffer, static_cast<std::size_t>(n));
    if (fd >= 0) ::close(fd);
  } else if (S_ISDIR(st.st_mode) && st.st_dev == device) {  // one filesystem, like the snapshot
    for (const auto& name : names_in(path)) mix_tree(hash, join_path(path, name), relative + "/" + name, device);
  }
}

}  // namespace detail

// A checksum of a directory tree on one filesystem: names (sorted), types,
// owners, modes, sizes, mtimes, ctimes, symlink targets and file contents.
inline std::string tree_checksum(const std::string& root) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  struct stat st {};
  if (::lstat(root.c_str(), &st) != 0) return "absent";
  detail::mix_tree(hash, root, "", st.st_dev);
  return fmt::format("{:016x}", hash);
}

// The space a tree's files take (st_blocks, as a tmpfs copy of it would
// take), not following symlinks and not leaving its filesystem.
inline std::uint64_t tree_bytes(const std::string& root) {
  namespace fs = std::filesystem;
  std::uint64_t bytes = 0;
  std::error_code error;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, error), end;
  struct stat top {};
  if (error || ::lstat(root.c_str(), &top) != 0) return 0;
  for (; it != end; it.increment(error)) {
    if (error) break;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    if (st.st_dev != top.st_dev) {
      it.disable_recursion_pending();
      continue;
    }
    bytes += static_cast<std::uint64_t>(st.st_blocks) * 512;
  }
  return bytes;
}

// What of the host's kernel state a build that is root could change without
// a namespace of its own in the way. Each field is read the same way before
// and after a session; a difference is the build's reach.
struct HostState {
  std::string hostname, domainname;
  double clock_offset = 0;  // CLOCK_REALTIME - CLOCK_MONOTONIC, seconds
  std::map<std::string, std::string> sysctls;  // path -> value
  std::map<std::string, std::string> keys;     // /proc/keys: id -> "type description"
  std::map<std::string, std::string> ipc;      // "shm 123" -> "key owner"
  std::set<std::string> modules;               // names in /proc/modules (absent: none)
};

namespace detail {

inline std::string first_line(const std::string& path) {
  auto text = linux_sys::read_file(path);
  if (!text) return "";
  return text->substr(0, text->find('\n'));
}

inline double clock_offset() {
  timespec real{}, mono{};
  ::clock_gettime(CLOCK_REALTIME, &real);
  ::clock_gettime(CLOCK_MONOTONIC, &mono);
  return static_cast<double>(real.tv_sec - mono.tv_sec) + static_cast<double>(real.tv_nsec - mono.tv_nsec) / 1e9;
}

inline std::vector<std::vector<std::string>> table_rows(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  auto text = linux_sys::read_file(path);
  if (!text) return rows;
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::vector<std::string> row;
    for (std::string word; words >> word;) row.push_back(word);
    if (!row.empty()) rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace detail

inline HostState host_state(const std::vector<std::string>& sysctls) {
  HostState state;
  state.hostname = detail::first_line("/proc/sys/kernel/hostname");
  state.domainname = detail::first_line("/proc/sys/kernel/domainname");
  state.clock_offset = detail::clock_offset();
  for (const auto& path : sysctls) state.sysctls[path] = detail::first_line(path);
  // "id flags usage timeout perm uid gid type description: summary"
  for (const auto& row : detail::table_rows("/proc/keys"))
    if (row.size() >= 9) state.keys[row[0]] = row[7] + " " + row[8];
  // /proc/sysvipc/{shm,msg,sem}: "key id perms ... uid ...", a header first.
  for (const char* kind : {"shm", "msg", "sem"}) {
    const auto rows = detail::table_rows(std::string("/proc/sysvipc/") + kind);
    for (std::size_t i = 1; i < rows.size(); ++i)
      if (rows[i].size() >= 2) state.ipc[fmt::format("{} {}", kind, rows[i][1])] = "key " + rows[i][0];
  }
  for (const auto& row : detail::table_rows("/proc/modules")) state.modules.insert(row[0]);
  return state;
}

// What changed between `before` and `after`, each as a line for the report;
// what can be put back is put back at once (the name, the sysctls, new
// keys, new IPC objects), so that the next session, and the host, start
// from `before`. A module is named, never unloaded. The clock is not among
// them: see clock_step.
// A step of the host's realtime clock against its monotonic one between
// `before` and `after`, as a note. Not a leak, and never set back: a
// virtual machine's clock is stepped from outside too (measured here:
// steps of 9 and 25 s in the middle of sessions, while the VM was resumed),
// and setting it back would fight the host's own time keeping with a
// guess. Whether a build may set the clock is what sets_clock's probe
// tries (its clock_settime's errno).
inline std::optional<std::string> clock_step(const HostState& before, const HostState& after) {
  const double moved = after.clock_offset - before.clock_offset;
  if (std::fabs(moved) <= 1.0) return std::nullopt;
  return fmt::format("the host's clock was stepped by {:.3f} s during the session (left alone: a VM's clock is stepped "
                     "from outside too; sets_clock probes the privilege itself)",
                     moved);
}

inline std::vector<std::string> restore_host_state(const HostState& before, const HostState& after) {
  std::vector<std::string> changed;
  const auto restored = [](bool ok) { return ok ? " (restored)" : " (NOT restored)"; };
  if (after.hostname != before.hostname)
    changed.push_back(fmt::format("the host's name changed to '{}'{}", after.hostname,
                                  restored(::sethostname(before.hostname.data(), before.hostname.size()) == 0)));
  if (after.domainname != before.domainname)
    changed.push_back(fmt::format("the host's NIS domain name changed to '{}'{}", after.domainname,
                                  restored(::setdomainname(before.domainname.data(), before.domainname.size()) == 0)));
  for (const auto& [path, value] : before.sysctls) {
    auto now = after.sysctls.find(path);
    if (now != after.sysctls.end() && now->second != value)
      changed.push_back(fmt::format("{} changed from {} to {}{}", path, value, now->second,
                                    restored(static_cast<bool>(linux_sys::write_file(path, value + "\n")))));
  }
  for (const auto& [id, what] : after.keys) {
    if (before.keys.count(id)) continue;
    const long serial = std::strtol(id.c_str(), nullptr, 16);
    constexpr long keyctl_invalidate = 21;  // KEYCTL_INVALIDATE
    changed.push_back(fmt::format("a key appeared in the host's keyrings: {} {}{}", id, what,
                                  restored(::syscall(SYS_keyctl, keyctl_invalidate, serial) == 0)));
  }
  for (const auto& [object, what] : after.ipc) {
    if (before.ipc.count(object)) continue;
    const int id = std::atoi(object.c_str() + 4);
    const bool removed = object.rfind("shm", 0) == 0   ? ::shmctl(id, IPC_RMID, nullptr) == 0
                         : object.rfind("msg", 0) == 0 ? ::msgctl(id, IPC_RMID, nullptr) == 0
                                                       : ::semctl(id, 0, IPC_RMID) == 0;
    changed.push_back(fmt::format("a SysV IPC object appeared on the host: {} ({}){}", object, what, restored(removed)));
  }
  for (const auto& name : after.modules)
    if (!before.modules.count(name)) changed.push_back("a kernel module was loaded on the host: " + name);
  for (const auto& name : before.modules)
    if (!after.modules.count(name)) changed.push_back("a kernel module was unloaded from the host: " + name);
  return changed;
}

}  // namespace snapcell::cli::host
