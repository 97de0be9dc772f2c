#pragma once
// Walking /proc: the facts of one process read from its /proc/PID files, and
// the pids of every process whose facts satisfy a predicate (a process group
// for the session supervisor, a PID namespace for the pidns ones).
//
// Nothing here pins a process: a scan only names candidates. Whoever acts on
// one goes through LinuxProcessTable (process_table.hpp), which re-reads the
// facts through a pidfd. Processes come and go during a scan; one that is gone
// (or is a zombie, which can no longer be signalled or hold anything) is
// skipped, never reported as an error.

#include <dirent.h>
#include <sys/stat.h>

#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/linux/cgroup_text.hpp"
#include "snapcell/linux/numbers.hpp"
#include "snapcell/linux/proc_stat.hpp"
#include "snapcell/linux/sys.hpp"
#include "snapcell/signal.hpp"

namespace snapcell::linux_sys {

// Which facts to read beyond /proc/PID/stat (always read: it holds the pid,
// the group, the session, the start time and the state that tells a zombie).
enum ProcFact : unsigned {
  fact_stat = 0,
  fact_cgroup = 1u << 0,
  fact_pid_namespace = 1u << 1,
  fact_root = 1u << 2,
  fact_all = fact_cgroup | fact_pid_namespace | fact_root,
};

namespace detail {

// ENOENT from /proc/PID means the process was reaped; ESRCH is what some
// /proc files return once the task is exiting. Both are "gone".
inline bool is_gone(int code) { return code == ENOENT || code == ESRCH; }

inline Error gone(Pid pid) { return errno_error("read /proc", std::to_string(pid), ESRCH); }

}  // namespace detail

// The facts of `pid` as /proc shows them now. ESRCH when the process is gone,
// a zombie, or past the point of its exit where it dropped its root (a
// process without a root is not a process that can hold anything).
inline Result<ProcessFacts> read_process_facts(Pid pid, unsigned facts = fact_all) {
  if (pid <= 0) return logic_error("read /proc", std::to_string(pid), "not a positive pid");
  const std::string dir = fmt::format("/proc/{}", pid);
  ProcessFacts result;
  result.pid = pid;

  auto stat_text = read_file(dir + "/stat");
  if (!stat_text) return detail::is_gone(stat_text.code()) ? detail::gone(pid) : stat_text.error();
  auto stat = linux_text::parse_proc_stat(*stat_text);
  if (!stat) return stat.error();
  if (stat->pid != pid) return logic_error("read /proc", dir + "/stat", fmt::format("names pid {}", stat->pid));
  if (stat->state == 'Z' || stat->state == 'X') return detail::gone(pid);
  result.pgid = stat->pgrp;
  result.sid = stat->session;
  result.start_time = stat->start_time;

  if (facts & fact_cgroup) {
    auto text = read_file(dir + "/cgroup");
    if (!text) return detail::is_gone(text.code()) ? detail::gone(pid) : text.error();
    auto memberships = linux_text::parse_proc_cgroup(*text);
    if (!memberships) return memberships.error();
    result.cgroup = linux_text::unified_path(*memberships).value_or("");
  }
  if (facts & fact_pid_namespace) {
    auto ns = stat_path(dir + "/ns/pid");
    if (!ns) return detail::is_gone(ns.code()) ? detail::gone(pid) : ns.error();
    result.pid_namespace = ns->st_ino;
  }
  if (facts & fact_root) {
    auto root = stat_path(dir + "/root");
    if (!root) return detail::is_gone(root.code()) ? detail::gone(pid) : root.error();
    result.root_device = root->st_dev;
  }
  return result;
}

// The numeric entries of /proc: every thread-group leader in the reader's PID
// namespace (threads hide under /proc/PID/task), in directory order.
inline Result<std::vector<Pid>> list_pids(const std::string& proc = "/proc") {
  DIR* dir = ::opendir(proc.c_str());
  if (dir == nullptr) return errno_error("opendir", proc);
  std::vector<Pid> pids;
  errno = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (auto pid = linux_text::parse_pid(entry->d_name)) pids.push_back(*pid);
    errno = 0;
  }
  const int code = errno;
  ::closedir(dir);
  if (code != 0) return errno_error("readdir", proc, code);
  return pids;
}

// The pids whose facts (`facts` says which to read) satisfy `keep`. A process
// that vanishes mid-scan is skipped. So is one whose namespace or root links
// the kernel hides from us (EACCES: ptrace access mode denied): that is a
// process more privileged than the controller, such as the host's init when
// the controller runs in a child user namespace, and a build, which runs with
// the controller's credentials or fewer, can never be one. Any other failure
// to read a process is returned, since a scan that silently skips what it
// cannot read proves nothing.
template <class Predicate>
Result<std::vector<Pid>> scan_processes(unsigned facts, Predicate&& keep) {
  auto pids = list_pids();
  if (!pids) return pids.error();
  std::vector<Pid> kept;
  for (Pid pid : *pids) {
    auto read = read_process_facts(pid, facts);
    if (!read) {
      if (read.code() == ESRCH || read.code() == EACCES) continue;
      return read.error();
    }
    if (keep(std::as_const(*read))) kept.push_back(pid);
  }
  return kept;
}

}  // namespace snapcell::linux_sys
