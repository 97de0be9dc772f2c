// Host tests of the real supervisors (root, cgroup v2 with cgroup.kill): the
// process table against real and recycled PIDs, the /proc scan, the cgroup
// leaf, the unit records, and every supervisor against every adversary of
// harness/adversaries, judged from outside: by scanning /proc for processes
// whose root is the test's chroot or that descend from this test process
// (a child subreaper, so orphans of a build stay our descendants instead of
// going to PID 1), never by the supervisor's own account.
//
// Every test builds its own world and takes it down whatever happens: a tmpfs
// on a fresh directory under /tmp holding a busybox chroot, a dedicated
// cgroup parent in each hierarchy used, and two sentinel processes (cwd "/",
// a file on "/" open, one in its own session, one in ours) that must be alive
// at the end of every test. Only processes this test started are signalled.
//
// The adversaries are found in $SNAPCELL_ADVERSARIES_DIR (default /tmp/adv),
// built with `cc -static -O2`.

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "snapcell/linux/cgroup.hpp"
#include "snapcell/linux/overlay_volumes.hpp"
#include "snapcell/linux/proc_scan.hpp"
#include "snapcell/linux/process_table.hpp"
#include "snapcell/linux/supervisors.hpp"
#include "snapcell/signal.hpp"
#include "host/loopback_listener.hpp"

namespace lx = snapcell::linux_sys;
using snapcell::Millis;
using snapcell::Pid;
using snapcell::SpawnSpec;
using snapcell::testing::LoopbackListener;

namespace {

template <class R>
std::string why(const R& result) {
  return result ? std::string("ok") : result.error().message();
}

#define REQUIRE_OK(expr)          \
  do {                            \
    const auto& result_ = (expr); \
    INFO(why(result_));           \
    REQUIRE(result_.is_ok());     \
  } while (false)

#define CHECK_OK(expr)            \
  do {                            \
    const auto& result_ = (expr); \
    INFO(why(result_));           \
    CHECK(result_.is_ok());       \
  } while (false)

using Clock = std::chrono::steady_clock;

long elapsed_ms(Clock::time_point since) {
  return static_cast<long>(std::chrono::duration_cast<Millis>(Clock::now() - since).count());
}

const std::vector<std::string> kAdversaries = {
    "setsid_escape", "double_fork",  "ignores_term",      "fork_during_kill",     "keeps_cwd",
    "holds_file",    "mounts_tmpfs", "fork_bomb_bounded", "sleeps_past_deadline", "well_behaved",
    "fork_storm",
};

std::string adversaries_dir() {
  const char* dir = std::getenv("SNAPCELL_ADVERSARIES_DIR");
  return dir != nullptr && *dir != '\0' ? dir : "/tmp/adv";
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// This process's path in a v1 hierarchy, from /proc/self/cgroup.
std::optional<std::string> own_v1_path(const std::string& controller) {
  std::istringstream lines(read_text("/proc/self/cgroup"));
  for (std::string line; std::getline(lines, line);) {
    auto first = line.find(':');
    auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    std::istringstream controllers(line.substr(first + 1, second - first - 1));
    for (std::string name; std::getline(controllers, name, ',');)
      if (name == controller) return line.substr(second + 1);
  }
  return std::nullopt;
}

// A forked process this test owns, pinned by a pidfd from birth.
// Killed and reaped when it goes out of scope, so that a failed REQUIRE
// leaves nothing running.
struct Child {
  Pid pid = 0;
  lx::UniqueFd pidfd;

  Child() = default;
  Child(Pid p, lx::UniqueFd fd) : pid(p), pidfd(std::move(fd)) {}
  Child(Child&&) = default;
  Child& operator=(Child&&) = default;
  ~Child() { kill_and_reap(); }

  bool alive() const {
    pollfd ready{pidfd.get(), POLLIN, 0};
    return pidfd.valid() && ::poll(&ready, 1, 0) == 0;
  }
  void kill_and_reap() {
    if (!pidfd.valid()) return;
    (void)::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0u);
    siginfo_t info{};
    (void)::waitid(P_PIDFD, static_cast<id_t>(pidfd.get()), &info, WEXITED);
    pidfd.reset();
  }
};

Child start_sentinel(bool own_session) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (own_session) ::setsid();
    if (::chdir("/") != 0) ::_exit(1);
    const int held = ::open("/etc/passwd", O_RDONLY);
    const int dir = ::open("/", O_RDONLY | O_DIRECTORY);
    (void)held;
    (void)dir;
    for (;;) ::pause();
  }
  Child child;
  child.pid = pid;
  if (pid > 0) child.pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0u)));
  return child;
}

struct ProcRow {
  Pid pid;
  Pid ppid;
  char state;
};

// Every process of the host as /proc shows it, read by the test's own code.
std::vector<ProcRow> proc_rows() {
  std::vector<ProcRow> rows;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return rows;
  while (const dirent* entry = ::readdir(dir)) {
    const Pid pid = std::atoi(entry->d_name);
    if (pid <= 0) continue;
    const std::string stat = read_text(fmt::format("/proc/{}/stat", pid));
    const auto close = stat.rfind(')');
    if (close == std::string::npos || close + 4 >= stat.size()) continue;
    std::istringstream rest(stat.substr(close + 2));
    ProcRow row{pid, 0, '?'};
    rest >> row.state >> row.ppid;
    rows.push_back(row);
  }
  ::closedir(dir);
  return rows;
}

std::optional<dev_t> root_device_of(Pid pid) {
  struct stat st {};
  if (::stat(fmt::format("/proc/{}/root", pid).c_str(), &st) != 0) return std::nullopt;
  return st.st_dev;
}

class HostWorld {
 public:
  HostWorld() {
    if (::geteuid() != 0) {
      skip = "not root";
      return;
    }
    if (!lx::host_cgroup_layout()) {
      skip = lx::host_cgroup_layout().error().message();
      return;
    }
    layout = *lx::host_cgroup_layout();
    (void)::prctl(PR_GET_CHILD_SUBREAPER, &was_subreaper_, 0, 0, 0);
    (void)::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    subreaper_set_ = true;
    setup();
  }

  ~HostWorld() { teardown(); }

  HostWorld(const HostWorld&) = delete;
  HostWorld& operator=(const HostWorld&) = delete;

  bool ready() const { return skip.empty() && error.empty(); }

  lx::SupervisorConfig config() const {
    lx::SupervisorConfig config = lx::supervisor_config_for(layout);
    config.cgroup_parent = cgroup_parent;
    config.pids_v1_parent = pids_parent;
    config.memory_v1_parent = memory_parent;
    return config;
  }

  std::string session_name() {
    static unsigned counter = 0;
    return fmt::format("snapcell-{:016x}", (static_cast<std::uint64_t>(::getpid()) << 24) | ++counter);
  }

  bool sentinels_alive() const {
    return std::all_of(sentinels.begin(), sentinels.end(), [](const Child& c) { return c.alive(); });
  }

  // Live processes whose root is on the chroot's device: the build's, by
  // construction, and nothing else's.
  std::vector<Pid> in_root() const {
    std::vector<Pid> found;
    for (const auto& row : proc_rows()) {
      if (row.state == 'Z' || row.state == 'X') continue;
      if (root_device_of(row.pid) == root_device) found.push_back(row.pid);
    }
    return found;
  }

  // Live descendants of this test process other than the sentinels. A
  // process that has already dropped its root is past exit_fs() in do_exit:
  // it can never run user code again, so it does not count as alive.
  std::vector<Pid> descendants() const {
    const auto rows = proc_rows();
    std::map<Pid, Pid> parent;
    for (const auto& row : rows) parent[row.pid] = row.ppid;
    std::set<Pid> excluded;
    for (const auto& sentinel : sentinels) excluded.insert(sentinel.pid);
    std::vector<Pid> found;
    const Pid self = ::getpid();
    for (const auto& row : rows) {
      if (row.state == 'Z' || row.state == 'X' || row.pid == self || excluded.count(row.pid)) continue;
      bool descends = false;
      for (Pid up = row.ppid, hops = 0; up > 0 && hops < 4096; up = parent.count(up) ? parent[up] : 0, ++hops)
        if (up == self) {
          descends = true;
          break;
        }
      if (descends && root_device_of(row.pid)) found.push_back(row.pid);
    }
    return found;
  }

  // Mounts in this (the host's) namespace below the scratch directory.
  std::vector<std::string> mounts_below() const {
    std::vector<std::string> found;
    std::istringstream lines(read_text("/proc/self/mountinfo"));
    for (std::string line; std::getline(lines, line);) {
      std::istringstream fields(line);
      std::string id, parent, devno, root, target;
      fields >> id >> parent >> devno >> root >> target;
      if (target.rfind(scratch + "/", 0) == 0) found.push_back(target);
    }
    return found;
  }

  // SIGKILL, through pidfds, to exactly the live processes whose root is the
  // chroot (re-checked after the pidfd pins each one), until none is left.
  // Returns how many were killed.
  int kill_in_root() {
    int killed = 0;
    const auto until = Clock::now() + std::chrono::seconds(3);
    for (;;) {
      auto pids = in_root();
      if (pids.empty() || Clock::now() > until) return killed;
      for (Pid pid : pids) {
        auto handle = lx::pidfd_open(pid);
        if (!handle) continue;
        if (root_device_of(pid) != root_device || !lx::pidfd_alive(*handle)) continue;
        if (lx::pidfd_send_signal(*handle, SIGKILL)) ++killed;
        siginfo_t info{};
        (void)::waitid(P_PIDFD, static_cast<id_t>(handle->fd.get()), &info, WEXITED | WNOHANG);
      }
      std::this_thread::sleep_for(Millis(5));
    }
  }

  // The v1 hierarchy of a controller ("pids", "memory"); empty on a pure v2 host.
  const std::string& v1_mount(std::string_view controller) const {
    return controller == "pids" ? layout.pids_v1_mount : layout.memory_v1_mount;
  }

  std::string skip;
  std::string error;
  std::string scratch, root, logs;
  dev_t root_device = 0;
  lx::CgroupLayout layout;
  std::string cgroup_parent, pids_parent, memory_parent;
  std::vector<Child> sentinels;

 private:
  void fail(std::string what) {
    if (error.empty()) error = std::move(what);
  }

  void setup() {
    char pattern[] = "/tmp/snapcell-host-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) return fail("mkdtemp: " + std::string(std::strerror(errno)));
    scratch = pattern;
    if (::mount("snapcell-host-test", scratch.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=256m") != 0)
      return fail("mount tmpfs: " + std::string(std::strerror(errno)));
    mounted_ = true;
    root = scratch + "/root";
    logs = scratch + "/logs";
    for (const std::string& dir : {root, logs, root + "/bin", root + "/proc", root + "/dev", root + "/tmp",
                                  root + "/mnt", root + "/etc", root + "/usr"})
      if (::mkdir(dir.c_str(), 0755) != 0) return fail("mkdir " + dir);
    if (!copy("/bin/busybox", root + "/bin/busybox")) return fail("copy /bin/busybox");
    for (const auto& adversary : kAdversaries) {
      const std::string from = adversaries_dir() + "/" + adversary;
      if (!copy(from, root + "/bin/" + adversary))
        return fail(fmt::format("adversary {} missing: build harness/adversaries/{}.c with cc -static -O2 into {}",
                                from, adversary, adversaries_dir()));
    }
    struct stat st {};
    if (::stat(root.c_str(), &st) != 0) return fail("stat root");
    root_device = st.st_dev;

    cgroup_parent = fmt::format("{}/snapcell-test-{}", layout.v2_mount, ::getpid());
    if (::mkdir(cgroup_parent.c_str(), 0755) != 0) return fail("mkdir " + cgroup_parent);
    made_cgroups_.push_back(cgroup_parent);
    if (!exists(cgroup_parent + "/cgroup.kill")) {
      skip = "no cgroup.kill (Linux 5.14+)";
      return;
    }
    // The v1 parents go below this process's own cgroups, so builds stay
    // inside whatever accounting the test itself is under.
    for (auto [controller, target] : {std::pair{"pids", &pids_parent}, std::pair{"memory", &memory_parent}}) {
      const std::string& mount = v1_mount(controller);
      auto own = own_v1_path(controller);
      if (mount.empty() || !own || !exists(mount + "/cgroup.procs")) continue;
      std::string parent = mount + (*own == "/" ? "" : *own) + fmt::format("/snapcell-test-{}", ::getpid());
      if (::mkdir(parent.c_str(), 0755) != 0) return fail("mkdir " + parent);
      made_cgroups_.push_back(parent);
      *target = parent;
    }
    sentinels.push_back(start_sentinel(true));
    sentinels.push_back(start_sentinel(false));
    for (const auto& sentinel : sentinels)
      if (sentinel.pid <= 0 || !sentinel.pidfd.valid()) return fail("sentinel");
  }

  static bool copy(const std::string& from, const std::string& to) {
    std::ifstream in(from, std::ios::binary);
    if (!in) return false;
    std::ofstream out(to, std::ios::binary);
    out << in.rdbuf();
    out.close();
    return out.good() && ::chmod(to.c_str(), 0755) == 0;
  }

  static void remove_cgroup_tree(const std::string& dir) {
    if (DIR* handle = ::opendir(dir.c_str())) {
      std::vector<std::string> children;
      while (const dirent* entry = ::readdir(handle))
        if (entry->d_type == DT_DIR && std::string(entry->d_name) != "." && std::string(entry->d_name) != "..")
          children.emplace_back(dir + "/" + entry->d_name);
      ::closedir(handle);
      for (const auto& child : children) remove_cgroup_tree(child);
    }
    for (int attempt = 0; attempt < 200 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++attempt)
      std::this_thread::sleep_for(Millis(10));
  }

  // Takes down everything setup made, in reverse, whatever the test did.
  void teardown() {
    if (root_device != 0) (void)kill_in_root();
    // Our own dedicated parent: everything below it is ours.
    if (!cgroup_parent.empty() && exists(cgroup_parent + "/cgroup.kill"))
      (void)lx::write_file(cgroup_parent + "/cgroup.kill", "1");
    for (auto it = made_cgroups_.rbegin(); it != made_cgroups_.rend(); ++it) remove_cgroup_tree(*it);
    if (mounted_ && ::umount2(scratch.c_str(), 0) != 0) (void)::umount2(scratch.c_str(), MNT_DETACH);
    if (!scratch.empty()) (void)::rmdir(scratch.c_str());
    for (auto& sentinel : sentinels) sentinel.kill_and_reap();
    // Orphans of the builds were reparented to us (the subreaper) and killed.
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (subreaper_set_) (void)::prctl(PR_SET_CHILD_SUBREAPER, was_subreaper_, 0, 0, 0);
  }

  int was_subreaper_ = 0;
  bool subreaper_set_ = false;
  bool mounted_ = false;
  std::vector<std::string> made_cgroups_;
};

#define HOST_WORLD(world)                        \
  HostWorld world;                               \
  if (!world.skip.empty()) {                     \
    WARN("SKIPPED: " << world.skip);             \
    return;                                      \
  }                                              \
  INFO("world: " << world.error);                \
  REQUIRE(world.ready())

template <class S>
std::string name_of() {
  return std::string(S::kind);
}

template <class S>
SpawnSpec spec_for(const HostWorld& world, std::vector<std::string> argv, const std::string& session) {
  SpawnSpec spec;
  spec.root = world.root;
  spec.argv = std::move(argv);
  spec.limits.max_processes = 64;
  spec.limits.max_memory_bytes = 256ull << 20;
  spec.log_path = world.logs + "/" + session + ".log";
  return spec;
}

int forked_count(const std::string& log) {
  const auto at = log.find("forked ");
  return at == std::string::npos ? -1 : std::atoi(log.c_str() + at + 7);
}

// Runs `argv` to completion in a fresh unit and returns its log.
template <class S>
std::string run_to_completion(HostWorld& world, std::vector<std::string> argv, int* exit_code = nullptr,
                              const snapcell::Isolation& isolation = {}) {
  S supervisor(world.config());
  const std::string session = world.session_name();
  auto unit = supervisor.unit_for(session);
  SpawnSpec spec = spec_for<S>(world, std::move(argv), session);
  spec.isolation = isolation;
  REQUIRE_OK(supervisor.spawn(unit, spec));
  REQUIRE_OK(supervisor.launch(unit));
  auto outcome = supervisor.wait(unit, Millis(5000));
  REQUIRE_OK(outcome);
  CHECK_FALSE(outcome->timed_out);
  if (exit_code != nullptr) *exit_code = outcome->exit_code;
  CHECK_OK(supervisor.kill_all(unit, Millis(200)));
  CHECK_OK(supervisor.release(unit));
  return read_text(spec.log_path);
}

}  // namespace

// ---- the process table -----------------------------------------------------------

TEST_CASE("LinuxProcessTable inspects a live process through its pidfd, facts matching /proc", "[host]") {
  HOST_WORLD(world);
  Child child = start_sentinel(true);
  REQUIRE(child.pid > 0);
  lx::LinuxProcessTable table;
  auto handle = table.open(child.pid);
  REQUIRE_OK(handle);
  // setsid() in the child may not have run yet.
  std::optional<snapcell::ProcessFacts> facts;
  for (int i = 0; i < 200; ++i) {
    auto read = table.inspect(*handle);
    REQUIRE_OK(read);
    facts = *read;
    if (facts->sid == child.pid) break;
    std::this_thread::sleep_for(Millis(5));
  }
  CHECK(facts->pid == child.pid);
  CHECK(facts->pgid == child.pid);
  CHECK(facts->sid == child.pid);
  struct stat ns {}, slash {};
  REQUIRE(::stat("/proc/self/ns/pid", &ns) == 0);
  REQUIRE(::stat("/", &slash) == 0);
  CHECK(facts->pid_namespace == ns.st_ino);
  CHECK(facts->root_device == slash.st_dev);
  auto own = lx::read_process_facts(::getpid());
  REQUIRE_OK(own);
  CHECK(facts->cgroup == own->cgroup);
  CHECK(facts->start_time >= own->start_time);
  CHECK_OK(table.send(*handle, 0));
  child.kill_and_reap();
}

TEST_CASE("LinuxProcessTable refuses a zombie and a reaped process with ESRCH, through inspect and send",
          "[host]") {
  HOST_WORLD(world);
  int gate[2];
  REQUIRE(::pipe2(gate, O_CLOEXEC) == 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(gate[1]);
    char byte;
    (void)!::read(gate[0], &byte, 1);
    ::_exit(0);
  }
  ::close(gate[0]);
  Child child{pid, lx::UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0u)))};
  lx::LinuxProcessTable table;
  auto handle = table.open(pid);
  REQUIRE_OK(handle);
  REQUIRE_OK(table.inspect(*handle));
  ::close(gate[1]);  // the child exits
  pollfd ready{handle->fd.get(), POLLIN, 0};
  REQUIRE(::poll(&ready, 1, 5000) == 1);
  // A zombie: the pidfd still names it, but nothing can be signalled or held.
  CHECK(table.inspect(*handle).code() == ESRCH);
  siginfo_t info{};
  REQUIRE(::waitid(P_PIDFD, static_cast<id_t>(handle->fd.get()), &info, WEXITED) == 0);
  CHECK(table.inspect(*handle).code() == ESRCH);
  CHECK(table.send(*handle, SIGKILL).code() == ESRCH);
  CHECK(table.open(pid).code() == ESRCH);
}

// The recycled PID, forced: inside a PID namespace of its own a helper makes
// a process, pins it, lets it die, sets ns_last_pid so that the next fork
// takes the same PID, and checks that the old pidfd neither inspects nor
// signals the newcomer. The helper's exit code carries the verdict.
TEST_CASE("LinuxProcessTable never reaches the process that recycled a pinned PID", "[host]") {
  HOST_WORLD(world);
  const pid_t helper = ::fork();
  if (helper == 0) {
    // The helper's own mount and PID namespaces; its child is PID 1 there
    // and mounts a proc of that namespace (private: the host never sees it).
    if (::unshare(CLONE_NEWNS | CLONE_NEWPID) != 0) ::_exit(10);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(11);
    const pid_t init = ::fork();
    if (init < 0) ::_exit(12);
    if (init > 0) {
      int status = 0;
      ::waitpid(init, &status, 0);
      ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 13);
    }
    if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) ::_exit(14);
    const pid_t first = ::fork();
    if (first == 0) {
      for (;;) ::pause();
    }
    lx::LinuxProcessTable table;
    auto pinned = table.open(first);
    if (!pinned || !table.inspect(*pinned)) ::_exit(15);
    (void)table.send(*pinned, SIGKILL);
    ::waitpid(first, nullptr, 0);
    {
      std::ofstream last("/proc/sys/kernel/ns_last_pid");
      last << (first - 1);
    }
    const pid_t second = ::fork();
    if (second == 0) {
      for (;;) ::pause();
    }
    auto newcomer = lx::pidfd_open(second);
    if (!newcomer) ::_exit(16);
    int verdict = 0;
    if (second != first) {
      verdict = 20;  // the kernel did not recycle: the test would prove nothing
    } else if (table.inspect(*pinned).code() != ESRCH) {
      verdict = 21;
    } else if (table.send(*pinned, SIGKILL).code() != ESRCH) {
      verdict = 22;
    } else if (!lx::pidfd_alive(*newcomer)) {
      verdict = 23;  // the newcomer must be untouched
    } else {
      // Named explicitly, the newcomer is still no member of anything.
      auto refused = snapcell::signal_if_member(table, second, SIGKILL,
                                                [](const snapcell::ProcessFacts&) { return false; });
      if (refused.is_ok() || refused.code() != 0 || !lx::pidfd_alive(*newcomer)) verdict = 24;
    }
    (void)lx::pidfd_send_signal(*newcomer, SIGKILL);
    ::waitpid(second, nullptr, 0);
    ::_exit(verdict);
  }
  REQUIRE(helper > 0);
  int status = 0;
  REQUIRE(::waitpid(helper, &status, 0) == helper);
  REQUIRE(WIFEXITED(status));
  INFO("helper verdict " << WEXITSTATUS(status));
  CHECK(WEXITSTATUS(status) == 0);
}

// ---- /proc scan --------------------------------------------------------------------

TEST_CASE("scan_processes finds a process group and tolerates processes vanishing mid-scan", "[host]") {
  HOST_WORLD(world);
  auto pids = lx::list_pids();
  REQUIRE_OK(pids);
  CHECK(std::find(pids->begin(), pids->end(), ::getpid()) != pids->end());
  const Pid group = ::getpgrp();
  auto mine = lx::scan_processes(lx::fact_stat, [&](const snapcell::ProcessFacts& f) { return f.pgid == group; });
  REQUIRE_OK(mine);
  CHECK(std::find(mine->begin(), mine->end(), ::getpid()) != mine->end());
  // Churn: short-lived children appear and vanish while the scans run.
  std::vector<pid_t> churn;
  for (int i = 0; i < 40; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      for (int j = 0; j < 30; ++j) {
        const pid_t grandchild = ::fork();
        if (grandchild == 0) ::_exit(0);
        if (grandchild > 0) ::waitpid(grandchild, nullptr, 0);
      }
      ::_exit(0);
    }
    churn.push_back(pid);
  }
  for (int i = 0; i < 20; ++i) {
    auto all = lx::scan_processes(lx::fact_all, [](const snapcell::ProcessFacts&) { return true; });
    CHECK_OK(all);
  }
  for (pid_t pid : churn) ::waitpid(pid, nullptr, 0);
  CHECK(lx::read_process_facts(churn.front()).code() == ESRCH);
}

// ---- the cgroup leaf ---------------------------------------------------------------

TEST_CASE("cgroup leaf: validated name, limits where enforceable, populated, kill, EBUSY, remove", "[host]") {
  HOST_WORLD(world);
  const std::string mount = world.layout.v2_mount;
  for (const char* bad : {"", ".", "..", "a/b", "a b", "tab\there", "new\nline"})
    CHECK_FALSE(lx::create_leaf(mount, world.cgroup_parent, bad, lx::cgroup2_magic));
  CHECK_FALSE(lx::create_leaf(mount, mount, "leaf", lx::cgroup2_magic));             // the hierarchy's root
  CHECK_FALSE(lx::create_leaf(mount, "/tmp/x", "leaf", lx::cgroup2_magic));          // not below the mount
  CHECK_FALSE(lx::create_leaf("/tmp", "/tmp", "leaf", lx::cgroup2_magic));           // root again
  CHECK_FALSE(lx::create_leaf(mount, world.cgroup_parent + "/../x", "leaf", lx::cgroup2_magic));

  auto leaf = lx::create_leaf(mount, world.cgroup_parent, "leaf", lx::cgroup2_magic);
  REQUIRE_OK(leaf);
  CHECK(lx::create_leaf(mount, world.cgroup_parent, "leaf", lx::cgroup2_magic).code() == EEXIST);
  lx::CgroupLeaves leaves{*leaf, "", ""};
  if (!world.pids_parent.empty()) {
    auto made = lx::create_leaf(world.layout.pids_v1_mount, world.pids_parent, "leaf", lx::cgroup1_magic);
    REQUIRE_OK(made);
    leaves.pids_v1 = *made;
  }
  auto enforced = lx::apply_limits(leaves, snapcell::Limits{5, 64ull << 20});
  REQUIRE_OK(enforced);
  CHECK(enforced->max_processes == (!world.pids_parent.empty() || lx::controller_delegated(world.cgroup_parent, "pids")));
  CHECK_FALSE(enforced->notes.empty());

  auto populated = lx::cgroup_populated(*leaf);
  REQUIRE_OK(populated);
  CHECK_FALSE(*populated);
  int gate[2];
  REQUIRE(::pipe2(gate, O_CLOEXEC) == 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(gate[0]);
    // Joins by writing "0" (itself), then reports.
    const bool joined = lx::write_file(*leaf + "/cgroup.procs", "0").is_ok() &&
                        (leaves.pids_v1.empty() || lx::write_file(leaves.pids_v1 + "/cgroup.procs", "0").is_ok());
    (void)!::write(gate[1], joined ? "y" : "n", 1);
    for (;;) ::pause();
  }
  ::close(gate[1]);
  Child child{pid, lx::UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0u)))};
  char joined = 0;
  REQUIRE(::read(gate[0], &joined, 1) == 1);
  ::close(gate[0]);
  CHECK(joined == 'y');
  CHECK(*lx::cgroup_populated(*leaf));
  auto members = lx::cgroup_members(*leaf);
  REQUIRE_OK(members);
  CHECK(*members == std::vector<Pid>{pid});
  CHECK(lx::remove_leaf(*leaf).code() == EBUSY);
  // The freezer: frozen is reported once every member stopped; a frozen
  // cgroup can still be killed.
  CHECK_OK(lx::cgroup_freeze(*leaf, true));
  bool frozen = false;
  for (int i = 0; i < 200 && !frozen; ++i) {
    auto events = snapcell::linux_text::parse_cgroup_events(read_text(*leaf + "/cgroup.events"));
    frozen = events && events->frozen;
    if (!frozen) std::this_thread::sleep_for(Millis(5));
  }
  CHECK(frozen);
  CHECK_OK(lx::cgroup_kill(*leaf));
  pollfd ready{child.pidfd.get(), POLLIN, 0};
  CHECK(::poll(&ready, 1, 2000) == 1);
  child.kill_and_reap();
  for (int i = 0; i < 200 && *lx::cgroup_populated(*leaf); ++i) std::this_thread::sleep_for(Millis(5));
  CHECK_FALSE(*lx::cgroup_populated(*leaf));
  CHECK_OK(lx::remove_leaf(*leaf));
  CHECK_OK(lx::remove_leaf(*leaf));  // idempotent
  if (!leaves.pids_v1.empty()) CHECK_OK(lx::remove_leaf(leaves.pids_v1));
  CHECK_OK(lx::cgroup_members(*leaf));  // a missing leaf has no members
  CHECK_OK(lx::cgroup_kill(*leaf));     // and nothing to kill
}

// ---- unit records ------------------------------------------------------------------

TEMPLATE_TEST_CASE("Linux supervisor units round-trip and parse strictly, belongs_to checks the leaf", "[host]",
                   lx::SessionSupervisor, lx::CgroupSupervisor, lx::PidNamespaceSupervisor,
                   lx::DefaultSupervisor) {
  // Records are text: a made-up layout, nothing on this host is looked at.
  lx::SupervisorConfig config;
  config.cgroup_mount = "/cg/unified";
  config.cgroup_parent = "/cg/unified/snapcell-test-parse";
  config.pids_v1_mount = "/cg/pids";
  config.pids_v1_parent = "/cg/pids/snapcell-test-parse";
  TestType supervisor(config);
  const std::string name = "snapcell-00000000000000ab";
  auto unit = supervisor.unit_for(name);
  unit.pid = 4242;
  unit.pgid = 4242;
  unit.start_time = 123456;
  unit.pid_namespace = 4026531836;
  unit.root_device = 2049;
  unit.spawned_at_ms = 99;
  const std::string text = unit.serialize();
  auto parsed = TestType::Unit::parse(text);
  INFO(text);
  REQUIRE_OK(parsed);
  CHECK(parsed->serialize() == text);
  CHECK(parsed->belongs_to(name));
  CHECK_FALSE(parsed->belongs_to("snapcell-00000000000000ac"));
  CHECK(TestType::Unit::parse(supervisor.unit_for(name).serialize()));  // before spawn

  auto fields = snapcell::linux_text::split(text, ' ');
  const auto with = [&](std::size_t index, std::string value) {
    std::string out;
    for (std::size_t i = 0; i < fields.size(); ++i) out += (i ? " " : "") + (i == index ? value : std::string(fields[i]));
    return out;
  };
  std::vector<std::string> bad = {"", text + " ", " " + text, text + " 1", text + "\n", with(0, "other"),
                                  with(1, "a/b"), with(1, ".."), with(6, "-1"), with(6, "007"), with(6, "4243"),
                                  with(7, "x"), with(8, "1"), with(9, "0"), with(10, "0"), with(11, "-5"),
                                  with(7, "18446744073709551616")};
  if (TestType::kind == "cgroup" || TestType::kind == "default") {
    bad.push_back(with(2, "-"));
    bad.push_back(with(3, "/cg/unified/other"));
    bad.push_back(with(2, "/snapcell-test-parse/other"));
    bad.push_back(with(4, "/cg/pids/x/other"));
    bad.push_back(with(3, "/cg/unified/../" + name));
    // A well-formed record of another session does not belong to this one.
    auto other = supervisor.unit_for("snapcell-00000000000000ac");
    CHECK_FALSE(TestType::Unit::parse(other.serialize())->belongs_to(name));
  } else {
    bad.push_back(with(2, "/x/" + name));
    bad.push_back(with(3, "/x/" + name));
  }
  for (const auto& record : bad) {
    INFO("record: " << record);
    CHECK_FALSE(TestType::Unit::parse(record));
  }
}

// ---- the supervisors against the adversaries ---------------------------------------

namespace {

bool session_leaks(std::string_view kind, const std::string& adversary) {
  return kind == "session" &&
         (adversary == "setsid_escape" || adversary == "double_fork" || adversary == "fork_during_kill");
}

// A fork storm races a list-then-signal sweep, and if it won against the
// session supervisor, no cleanup by PID could be sure to end it: it is run
// only against the supervisors that must contain it.
bool too_dangerous_for(std::string_view kind, const std::string& adversary) {
  return kind == "session" && adversary == "fork_storm";
}

template <class S>
void run_adversary(HostWorld& world, const std::string& adversary) {
  S supervisor(world.config());
  const std::string session = world.session_name();
  auto unit = supervisor.unit_for(session);
  const SpawnSpec spec = spec_for<S>(world, {"/bin/" + adversary}, session);
  const auto spawned = Clock::now();
  REQUIRE_OK(supervisor.spawn(unit, spec));
  REQUIRE_OK(supervisor.launch(unit));
  auto outcome = supervisor.wait(unit, Millis(300));
  REQUIRE_OK(outcome);
  const long waited = elapsed_ms(spawned);
  const bool finishes = adversary == "well_behaved" || adversary == "setsid_escape" || adversary == "double_fork" ||
                        adversary == "fork_storm";  // its first process hands over to a child at once
  CHECK(outcome->timed_out == !finishes);
  if (finishes) CHECK(outcome->exit_code == 0);
  CHECK(waited <= 300 + 200);

  const auto kill_started = Clock::now();
  const auto killed = supervisor.kill_all(unit, Millis(200));
  const long kill_ms = elapsed_ms(kill_started);
  CHECK_OK(killed);
  auto survivors = supervisor.survivors(unit);
  REQUIRE_OK(survivors);
  CHECK(survivors->empty());

  auto left = world.in_root();
  auto descendants = world.descendants();
  const bool leaked = !left.empty();
  if (session_leaks(S::kind, adversary)) {
    // The weak baseline: the leak is there, and survivors() did not see it.
    CHECK(leaked);
    for (Pid pid : left) CHECK(std::find(survivors->begin(), survivors->end(), pid) == survivors->end());
    CHECK(world.kill_in_root() >= 1);
    CHECK(world.in_root().empty());
  } else {
    INFO("left in root: " << fmt::format("{}", fmt::join(left, " ")));
    INFO("descendants: " << fmt::format("{}", fmt::join(descendants, " ")));
    CHECK(left.empty());
    CHECK(descendants.empty());
  }
  CHECK_OK(supervisor.release(unit));
  if (std::string_view(S::kind) != "session" && std::string_view(S::kind) != "pidns") {
    CHECK_FALSE(exists(unit.cgroup_dir));
  }
  CHECK(world.mounts_below().empty());
  CHECK(world.sentinels_alive());

  const std::string log = read_text(spec.log_path);
  INFO("log: " << log);
  if (adversary == "well_behaved") CHECK(log.find("hello") != std::string::npos);
  if (adversary == "mounts_tmpfs") CHECK(log.find("tmpfs on /mnt") != std::string::npos);
  if (adversary == "keeps_cwd") CHECK(log.find("cwd is /tmp") != std::string::npos);
  if (adversary == "holds_file") CHECK(log.find("mapped at") != std::string::npos);
  std::string extra;
  if (adversary == "fork_bomb_bounded") {
    const int forked = forked_count(log);
    if (S::enforced_limits(unit).max_processes) {
      CHECK(forked >= 0);
      CHECK(forked < spec.limits.max_processes);
    }
    extra = fmt::format(" forked={}", forked);
  }
  fmt::print(stderr, "[matrix] {:8} {:21} {:9} kill_ms={}{}\n", S::kind, adversary, leaked ? "LEAKED" : "contained",
             kill_ms, extra);
}

}  // namespace

TEMPLATE_TEST_CASE("Linux supervisor against each adversary: contained, or (session) the known leak", "[host]",
                   lx::SessionSupervisor, lx::CgroupSupervisor, lx::PidNamespaceSupervisor,
                   lx::DefaultSupervisor) {
  for (const auto& adversary : kAdversaries) {
    if (too_dangerous_for(TestType::kind, adversary)) continue;
    DYNAMIC_SECTION(TestType::kind << " x " << adversary) {
      HOST_WORLD(world);
      run_adversary<TestType>(world, adversary);
    }
  }
}

TEMPLATE_TEST_CASE("Linux supervisor sandbox: minimal env and /dev, private /proc only with a PID namespace",
                   "[host]", lx::SessionSupervisor, lx::CgroupSupervisor, lx::PidNamespaceSupervisor,
                   lx::DefaultSupervisor) {
  HOST_WORLD(world);
  const bool pidns = TestType::kind == "pidns" || TestType::kind == "default";
  int code = -1;
  const std::string env = run_to_completion<TestType>(world, {"busybox", "env"}, &code);  // found through PATH
  CHECK(code == 0);
  CHECK(env == "PATH=/usr/bin:/bin\nHOME=/tmp\nLANG=C.UTF-8\n");
  const std::string dev = run_to_completion<TestType>(world, {"/bin/busybox", "ls", "/dev"});
  for (const char* node : {"null", "zero", "full", "random", "urandom", "tty"}) CHECK(dev.find(node) != std::string::npos);
  // Device nodes that work (the host's, bound onto a nodev /dev), not names.
  const std::string devices = run_to_completion<TestType>(
      world, {"/bin/busybox", "sh", "-c", "echo gone > /dev/null && busybox head -c 5 /dev/zero | busybox wc -c"});
  CHECK(devices == "5\n");
  const std::string proc = run_to_completion<TestType>(world, {"/bin/busybox", "cat", "/proc/self/stat"});
  if (pidns) CHECK(proc.rfind("2 (busybox)", 0) == 0);  // the command is PID 2, after its init
  else CHECK(proc.find("No such file") != std::string::npos);
  const std::string root = run_to_completion<TestType>(world, {"/bin/busybox", "ls", "/"});
  CHECK(root.find("bin") != std::string::npos);
  CHECK(root.find("logs") == std::string::npos);  // the scratch above the root is out of sight
  run_to_completion<TestType>(world, {"/bin/busybox", "false"}, &code);
  CHECK(code == 1);
  run_to_completion<TestType>(world, {"/bin/no-such-program"}, &code);
  CHECK(code == 127);
  CHECK(world.mounts_below().empty());
  CHECK(world.sentinels_alive());
}

// On hybrid hosts the limits live in v1 leaves, which the child joins by
// itself (writing "0" to their `tasks`); the build must be in them, as its
// own /proc/self/cgroup says, from inside (the default supervisor: the
// cgroup-only one shares the spawn but has no /proc in the sandbox).
TEST_CASE("Linux default supervisor: the build is in its v1 pids and memory leaves", "[host]") {
  using TestType = lx::DefaultSupervisor;
  HOST_WORLD(world);
  if (world.pids_parent.empty() && world.memory_parent.empty()) {
    WARN("SKIPPED: no v1 pids or memory hierarchy on this host (a pure v2 host has nothing to join)");
    return;
  }
  const std::string cgroups = run_to_completion<TestType>(world, {"/bin/busybox", "cat", "/proc/self/cgroup"});
  for (auto [controller, parent] : {std::pair{"pids", &world.pids_parent}, std::pair{"memory", &world.memory_parent}}) {
    if (parent->empty()) continue;
    const std::string& mount = world.v1_mount(controller);
    REQUIRE(parent->rfind(mount + "/", 0) == 0);
    // In its own cgroup namespace, made after the joins: each hierarchy's
    // root is the leaf it was in then. A child that had not joined would
    // see its v1 cgroup outside its namespace's root ("/..").
    const std::string expected = fmt::format(":{}:/\n", controller);
    INFO(cgroups);
    CHECK(cgroups.find(expected) != std::string::npos);
  }
}

// The isolation a build of untrusted code gets: its own uid and gid, no
// supplementary groups, no_new_privs, a working directory, and a network
// namespace whose loopback is up and leads nowhere: a listener on the host's
// loopback is out of reach (connection refused inside, nothing accepted here).
TEMPLATE_TEST_CASE("Linux supervisor sandbox isolation: own uid, no_new_privs, only loopback", "[host]",
                   lx::SessionSupervisor, lx::CgroupSupervisor, lx::PidNamespaceSupervisor,
                   lx::DefaultSupervisor) {
  HOST_WORLD(world);
  snapcell::Isolation isolation;
  isolation.uid = 3999000123;
  isolation.gid = 3999000123;
  isolation.private_network = true;
  isolation.working_dir = "/tmp";
  int code = -1;
  const std::string ids = run_to_completion<TestType>(world, {"busybox", "sh", "-c", "id -u; id -g; id -G; pwd"}, &code, isolation);
  CHECK(code == 0);
  CHECK(ids == "3999000123\n3999000123\n3999000123\n/tmp\n");
  // The build cannot write where only root may.
  const std::string denied = run_to_completion<TestType>(world, {"busybox", "touch", "/etc/owned"}, &code, isolation);
  CHECK(code != 0);
  CHECK(denied.find("Permission denied") != std::string::npos);
  CHECK_FALSE(exists(world.root + "/etc/owned"));

  LoopbackListener listener;
  REQUIRE(listener.port() > 0);
  const std::string probe = "echo probe | busybox nc 127.0.0.1 " + std::to_string(listener.port()) + " && echo connected";
  const std::string reach = run_to_completion<TestType>(world, {"busybox", "sh", "-c", probe}, &code, isolation);
  INFO("inside: " << reach);
  CHECK(reach.find("connected") == std::string::npos);
  CHECK(reach.find("refused") != std::string::npos);  // loopback is up: refused, not unreachable
  CHECK(listener.connections() == 0);
  // The same probe without a network namespace reaches the listener: the
  // check above can tell the two apart.
  snapcell::Isolation shared = isolation;
  shared.private_network = false;
  const std::string reached = run_to_completion<TestType>(world, {"busybox", "sh", "-c", probe}, &code, shared);
  INFO("shared: " << reached);
  CHECK(listener.connections() == 1);

  if (TestType::kind == "pidns" || TestType::kind == "default") {
    const std::string status = run_to_completion<TestType>(world, {"busybox", "cat", "/proc/self/status"}, &code, isolation);
    CHECK(status.find("NoNewPrivs:\t1") != std::string::npos);
    INFO(status);
    const auto groups = status.find("Groups:");
    REQUIRE(groups != std::string::npos);
    CHECK(status.substr(groups, status.find('\n', groups) - groups).find_first_of("0123456789") == std::string::npos);
  }
  CHECK(world.descendants().empty());
  CHECK(world.sentinels_alive());
}

// What every build gets whatever the supervisor (issue 13, item 2): its own
// UTS and IPC namespaces, a cut capability set, no_new_privs, the seccomp
// filter, a nodev /dev, a capped /tmp and, with a PID namespace, a /proc
// whose kernel knobs are read-only and whose kernel internals are masked.
// Each is checked by trying, as root inside; then from outside, that the
// host kept its name.
TEMPLATE_TEST_CASE("Linux supervisor sandbox hardening: namespaces, capabilities, seccomp, /dev, /proc, /tmp",
                   "[host]", lx::SessionSupervisor, lx::CgroupSupervisor, lx::PidNamespaceSupervisor,
                   lx::DefaultSupervisor) {
  HOST_WORLD(world);
  const bool pidns = TestType::kind == "pidns" || TestType::kind == "default";
  char host_name[256] = {};
  REQUIRE(::gethostname(host_name, sizeof host_name - 1) == 0);
  int code = -1;
  const std::string renamed = run_to_completion<TestType>(world, {"busybox", "hostname", "snapcell-probe"}, &code);
  INFO("hostname: " << renamed);
  char after[256] = {};
  REQUIRE(::gethostname(after, sizeof after - 1) == 0);
  CHECK(std::string(after) == host_name);
  CHECK(code != 0);  // no CAP_SYS_ADMIN: even its own UTS namespace keeps its name
  CHECK(run_to_completion<TestType>(world, {"busybox", "hostname"}, &code) == "snapcell\n");
  // A segment of the host's IPC namespace is not in the build's.
  const int segment = ::shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
  REQUIRE(segment >= 0);
  const std::string ipcs = run_to_completion<TestType>(world, {"busybox", "ipcs", "-m"}, &code);
  ::shmctl(segment, IPC_RMID, nullptr);
  INFO("ipcs: " << ipcs);
  CHECK(ipcs.find(std::to_string(segment)) == std::string::npos);
  // nodev /dev, capped /tmp, seen from the build's mount table (PID namespace
  // kinds have a /proc to read it from).
  const std::string mknod = run_to_completion<TestType>(world, {"busybox", "mknod", "/tmp/disk", "b", "8", "0"}, &code);
  INFO("mknod: " << mknod);
  CHECK(code != 0);  // no CAP_MKNOD
  // Without a cgroup the rlimits hold what they can (sandbox.hpp,
  // LimitsHeldBy): RLIMIT_DATA at the memory cap (ulimit -d counts KiB),
  // and one real uid for RLIMIT_NPROC to count, CAP_SETUID cut.
  const bool cgroup = TestType::kind == "cgroup" || TestType::kind == "default";
  const std::string data_limit = run_to_completion<TestType>(world, {"busybox", "sh", "-c", "ulimit -d"}, &code);
  CHECK(data_limit == (cgroup ? std::string("unlimited\n") : fmt::format("{}\n", 256 << 10)));
  const std::uint64_t kept =
      cgroup ? lx::kept_capability_mask() : lx::kept_capability_mask() & ~(std::uint64_t{1} << CAP_SETUID);
  if (pidns) {
    const std::string status = run_to_completion<TestType>(world, {"busybox", "cat", "/proc/self/status"}, &code);
    INFO(status);
    CHECK(status.find(fmt::format("CapBnd:\t{:016x}", kept)) != std::string::npos);
    CHECK(status.find(fmt::format("CapEff:\t{:016x}", kept)) != std::string::npos);
    CHECK(status.find("NoNewPrivs:\t1") != std::string::npos);
    CHECK(status.find("Seccomp:\t2") != std::string::npos);
    const std::string mounts = run_to_completion<TestType>(world, {"busybox", "cat", "/proc/self/mounts"}, &code);
    INFO(mounts);
    CHECK(mounts.find("tmpfs /dev tmpfs rw,nosuid,nodev,noexec") != std::string::npos);
    CHECK(mounts.find("tmpfs /tmp tmpfs rw,nosuid,nodev,relatime,size=1048576k") != std::string::npos);
    CHECK(mounts.find("proc /proc/sys proc ro,nosuid,nodev,noexec") != std::string::npos);
    const std::string sysctl = run_to_completion<TestType>(
        world, {"busybox", "sh", "-c", "cat /proc/sys/fs/lease-break-time > /proc/sys/fs/lease-break-time"}, &code);
    INFO("sysctl: " << sysctl);
    CHECK(code != 0);
    CHECK(sysctl.find("Read-only file system") != std::string::npos);
    if (exists("/proc/keys")) {
      const std::string keys = run_to_completion<TestType>(world, {"busybox", "wc", "-c", "/proc/keys"}, &code);
      CHECK(keys.rfind("0 ", 0) == 0);  // /dev/null on top
    }
  }
  // Denied by the filter with EPERM (busybox has no keyctl; unshare is the
  // call it has that the filter and the bounding set both refuse).
  const std::string unshared = run_to_completion<TestType>(world, {"busybox", "unshare", "-U", "true"}, &code);
  INFO("unshare: " << unshared);
  CHECK(code != 0);
  CHECK(world.descendants().empty());
  CHECK(world.sentinels_alive());
}

// Root of a user namespace of its own (issue 13, item 1): uid 0 inside is
// a host id of the leased range, and the root, seen through an idmapped
// mount, belongs to it, so that chown and writes where only root may work as
// for root; on disk nothing changes owner but what root inside chowned, and
// what it creates is the host's root's. Judged from outside: the owners on
// disk, and the build's ids in the host's /proc while it runs.
TEMPLATE_TEST_CASE("Linux supervisor sandbox in its own user namespace: root inside owns the root, no host id",
                   "[host]", lx::SessionSupervisor, lx::CgroupSupervisor, lx::PidNamespaceSupervisor,
                   lx::DefaultSupervisor) {
  HOST_WORLD(world);
  const bool pidns = TestType::kind == "pidns" || TestType::kind == "default";
  constexpr std::uint32_t first = 3'900'000'000u;
  snapcell::Isolation isolation;
  isolation.user_namespace = {first, 65'536};
  // The path to the root is the host root's alone, as a state dir's is:
  // root of the namespace never has to look it up.
  REQUIRE(::chmod(world.scratch.c_str(), 0700) == 0);
  struct stat before {};
  REQUIRE(::stat((world.root + "/etc").c_str(), &before) == 0);
  REQUIRE(before.st_uid == 0);
  int code = -1;
  const std::string script = "id -u; id -g; touch /etc/made && chown 5:7 /usr && echo chowned";
  const std::string inside = run_to_completion<TestType>(world, {"busybox", "sh", "-c", script}, &code, isolation);
  INFO("inside: " << inside);
  CHECK(code == 0);
  CHECK(inside == "0\n0\nchowned\n");
  struct stat made {}, usr {};
  REQUIRE(::stat((world.root + "/etc/made").c_str(), &made) == 0);
  CHECK(made.st_uid == 0);  // the namespace's root writes as the disk's root, through the mount's shift
  CHECK(made.st_gid == 0);
  REQUIRE(::stat((world.root + "/usr").c_str(), &usr) == 0);
  CHECK(usr.st_uid == 5);
  CHECK(usr.st_gid == 7);

  if (pidns) {
    const std::string map = run_to_completion<TestType>(world, {"busybox", "cat", "/proc/self/uid_map", "/proc/self/gid_map"}, &code, isolation);
    const std::string expected_line = fmt::format("0 {} 65536", first);
    INFO("maps: " << map);
    std::istringstream lines(map);
    int mapped = 0;
    for (std::string line; std::getline(lines, line);) {
      std::istringstream fields(line);
      std::string a, b, c;
      fields >> a >> b >> c;
      CHECK(a + " " + b + " " + c == expected_line);
      ++mapped;
    }
    CHECK(mapped == 2);
    // Root of a user namespace is not the host's root: RLIMIT_NPROC binds it.
    const std::string bound = run_to_completion<TestType>(world, {"busybox", "sh", "-c", "ulimit -u"}, &code, isolation);
    CHECK(bound == "64\n");
  }

  // Seen from the host, once spawned (the ids are set before `ready`): the
  // cloned child, command or namespace init, holds the range's first only.
  {
    TestType supervisor(world.config());
    auto unit = supervisor.unit_for(world.session_name());
    auto spec = spec_for<TestType>(world, {"busybox", "true"}, unit.session);
    spec.isolation = isolation;
    REQUIRE_OK(supervisor.spawn(unit, spec));
    const std::string status = read_text(fmt::format("/proc/{}/status", unit.pid));
    const auto at = status.find("\nUid:");
    REQUIRE(at != std::string::npos);
    const std::string id = std::to_string(first);
    CHECK(status.substr(at + 1, status.find('\n', at + 1) - at - 1) == fmt::format("Uid:\t{}\t{}\t{}\t{}", id, id, id, id));
    CHECK_OK(supervisor.kill_all(unit, Millis(100)));
    CHECK_OK(supervisor.release(unit));
  }

  // A build uid inside the namespace is one of its ids, and no more root.
  snapcell::Isolation user = isolation;
  user.uid = 1000;
  user.gid = 1000;
  const std::string denied = run_to_completion<TestType>(world, {"busybox", "sh", "-c", "id -u; touch /etc/other"}, &code, user);
  CHECK(code != 0);
  CHECK(denied.rfind("1000\n", 0) == 0);
  CHECK_FALSE(exists(world.root + "/etc/other"));

  // Ranges that would hand out the host's root or ids past the end, and ids
  // the namespace does not have, are refused before anything is cloned.
  for (auto [range, uid] : {std::pair{snapcell::IdRange{0, 65'536}, std::int64_t{-1}},
                            std::pair{snapcell::IdRange{0xffff0000u, 0x10000u}, std::int64_t{-1}},
                            std::pair{snapcell::IdRange{first, 65'536}, std::int64_t{65'536}}}) {
    TestType supervisor(world.config());
    auto unit = supervisor.unit_for(world.session_name());
    auto spec = spec_for<TestType>(world, {"busybox", "true"}, unit.session);
    spec.isolation.user_namespace = range;
    spec.isolation.uid = uid;
    spec.isolation.gid = uid;
    auto spawned = supervisor.spawn(unit, spec);
    INFO(range.first << "+" << range.count << " uid " << uid);
    CHECK_FALSE(spawned);
    CHECK(unit.pid == 0);
    CHECK_OK(supervisor.release(unit));
  }
  CHECK(world.in_root().empty());
  CHECK(world.descendants().empty());
  CHECK(world.sentinels_alive());
}

// The overlay backend in a user namespace: the kernel does not idmap an
// overlay, so OverlayVolumes shifts its lower layer (the origin, idmapped,
// read-only) and the sandbox enters the overlay as it is (root_shifted).
// Root inside writes, chowns, removes and recreates as on any root; the
// upper layer keeps the shifted ids; the origin keeps its own; and remove()
// takes the shifted lower layer away with the layers' tmpfs.
TEST_CASE("Linux default supervisor in its own user namespace over a shifted overlay", "[host]") {
  using TestType = lx::DefaultSupervisor;
  HOST_WORLD(world);
  constexpr std::uint32_t first = 3'900'065'536u;
  const snapcell::IdRange range{first, 65'536};
  REQUIRE(::chmod(world.scratch.c_str(), 0700) == 0);
  { std::ofstream(world.root + "/etc/base.conf") << "base\n"; }
  lx::OverlayVolumes volumes(world.scratch + "/volumes", 64ull << 20, range);
  const std::string name = "shifted-overlay";
  auto spec = volumes.snapshot(world.root, name);
  REQUIRE_OK(spec);
  const std::string mount_point = world.scratch + "/mnt";
  REQUIRE(::mkdir(mount_point.c_str(), 0755) == 0);
  REQUIRE(::mount(spec->source.c_str(), mount_point.c_str(), spec->fs_type.c_str(), MS_NOSUID | MS_NODEV,
                  spec->options.c_str()) == 0);
  struct stat root_st {};
  REQUIRE(::stat(mount_point.c_str(), &root_st) == 0);
  CHECK(root_st.st_uid == first);  // the host sees the shifted owner
  CHECK(spec->shows_shifted_ids);

  TestType supervisor(world.config());
  auto unit = supervisor.unit_for(world.session_name());
  auto run = spec_for<TestType>(world,
                                {"busybox", "sh", "-c",
                                 "id -u; echo new > /etc/new && echo more >> /etc/base.conf && chown 5:7 /usr && "
                                 "rm -r /mnt && mkdir /mnt && touch /mnt/fresh && ls /mnt && echo done"},
                                unit.session);
  run.root = mount_point;
  run.isolation.user_namespace = range;
  run.isolation.root_shifted = spec->shows_shifted_ids;  // as the Session passes it on
  REQUIRE_OK(supervisor.spawn(unit, run));
  REQUIRE_OK(supervisor.launch(unit));
  auto outcome = supervisor.wait(unit, Millis(5000));
  REQUIRE_OK(outcome);
  CHECK(outcome->exit_code == 0);
  CHECK_OK(supervisor.kill_all(unit, Millis(100)));
  CHECK_OK(supervisor.release(unit));
  CHECK(read_text(run.log_path) == "0\nfresh\ndone\n");

  const std::string upper = world.scratch + "/volumes/" + name + "/layers/upper";
  struct stat st {};
  REQUIRE(::stat((upper + "/etc/new").c_str(), &st) == 0);
  CHECK(st.st_uid == first);  // root inside, stored as the range's first
  REQUIRE(::stat((upper + "/etc/base.conf").c_str(), &st) == 0);
  CHECK(st.st_uid == first);  // copied up with the lower layer's shifted owner
  CHECK(read_text(upper + "/etc/base.conf") == "base\nmore\n");
  CHECK(read_text(world.root + "/etc/base.conf") == "base\n");
  REQUIRE(::stat((upper + "/usr").c_str(), &st) == 0);
  CHECK(st.st_uid == first + 5);
  CHECK(st.st_gid == first + 7);
  CHECK_FALSE(exists(world.root + "/etc/new"));
  REQUIRE(::stat((world.root + "/usr").c_str(), &st) == 0);
  CHECK(st.st_uid == 0);  // the origin keeps its owners

  CHECK(volumes.remove(name).code() == EBUSY);  // the overlay is still mounted
  REQUIRE(::umount2(mount_point.c_str(), UMOUNT_NOFOLLOW) == 0);
  CHECK_OK(volumes.remove(name));
  CHECK_FALSE(exists(world.scratch + "/volumes/" + name));
  CHECK(world.mounts_below().empty());
  CHECK(world.descendants().empty());
  CHECK(world.sentinels_alive());
}

TEMPLATE_TEST_CASE("Linux supervisor spawn fails cleanly: bad root, host root, missing mount point", "[host]",
                   lx::SessionSupervisor, lx::CgroupSupervisor, lx::PidNamespaceSupervisor,
                   lx::DefaultSupervisor) {
  HOST_WORLD(world);
  TestType supervisor(world.config());
  {
    auto unit = supervisor.unit_for(world.session_name());
    auto spec = spec_for<TestType>(world, {"/bin/well_behaved"}, unit.session);
    spec.root = "/";
    CHECK_FALSE(supervisor.spawn(unit, spec));
    spec.root = world.root + "/../root";
    CHECK_FALSE(supervisor.spawn(unit, spec));
    spec.root = world.root + "/missing";
    CHECK(supervisor.spawn(unit, spec).code() == ENOENT);
    CHECK(unit.pid == 0);
  }
  {
    // A root without /tmp: the child reports the failed mount by name.
    REQUIRE(::rmdir((world.root + "/tmp").c_str()) == 0);
    auto unit = supervisor.unit_for(world.session_name());
    auto spec = spec_for<TestType>(world, {"/bin/well_behaved"}, unit.session);
    auto spawned = supervisor.spawn(unit, spec);
    REQUIRE_FALSE(spawned);
    CHECK(spawned.code() == ENOENT);
    CHECK(spawned.error().operation == "mount(tmpfs)");
    CHECK(spawned.error().target == world.root + "/tmp");
    CHECK(unit.pid == 0);
    if (TestType::kind == "cgroup" || TestType::kind == "default") CHECK_FALSE(exists(unit.cgroup_dir));
    CHECK_OK(supervisor.release(unit));
    REQUIRE(::mkdir((world.root + "/tmp").c_str(), 0755) == 0);
  }
  {
    auto unit = supervisor.unit_for("not/a/leaf");
    auto spec = spec_for<TestType>(world, {"/bin/well_behaved"}, "bad");
    CHECK_FALSE(supervisor.spawn(unit, spec));
  }
  CHECK(world.in_root().empty());
  CHECK(world.descendants().empty());
  CHECK(world.sentinels_alive());
}

// A controller (a forked child of the test) spawns and is SIGKILLed before
// launch: the held build must die with it (death signal armed before the
// handshake's ready), and the unit read back from the record must be enough
// to verify and release what is left.
TEMPLATE_TEST_CASE("Linux supervisor: a controller killed before launch takes its held build with it", "[host]",
                   lx::SessionSupervisor, lx::CgroupSupervisor, lx::PidNamespaceSupervisor,
                   lx::DefaultSupervisor) {
  HOST_WORLD(world);
  const std::string session = world.session_name();
  const SpawnSpec spec = spec_for<TestType>(world, {"/bin/well_behaved"}, session);
  int channel[2];
  REQUIRE(::pipe2(channel, O_CLOEXEC) == 0);
  const pid_t controller = ::fork();
  if (controller == 0) {
    ::close(channel[0]);
    std::string message;
    try {
      // Kept alive on purpose: a unit that is destroyed closes the
      // handshake, which ends the held build by itself (tested below).
      auto* supervisor = new TestType(world.config());
      auto* unit = new typename TestType::Unit(supervisor->unit_for(session));
      auto spawned = supervisor->spawn(*unit, spec);
      message = spawned ? unit->serialize() : "error " + spawned.error().message();
    } catch (...) {
      message = "error: exception";
    }
    message += "\n";
    (void)!::write(channel[1], message.data(), message.size());
    for (;;) ::pause();
  }
  REQUIRE(controller > 0);
  Child controller_child{controller, lx::UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, controller, 0u)))};
  ::close(channel[1]);
  std::string record;
  char byte;
  while (::read(channel[0], &byte, 1) == 1 && byte != '\n') record += byte;
  ::close(channel[0]);
  INFO("record: " << record);
  auto unit = TestType::Unit::parse(record);
  if (!unit) controller_child.kill_and_reap();
  REQUIRE_OK(unit);
  REQUIRE(unit->belongs_to(session));

  auto build = lx::pidfd_open(unit->pid);
  REQUIRE_OK(build);
  auto facts = lx::read_process_facts(unit->pid);
  REQUIRE_OK(facts);
  REQUIRE(facts->start_time == unit->start_time);
  CHECK(world.in_root().size() == 1);

  controller_child.kill_and_reap();
  pollfd gone{build->fd.get(), POLLIN, 0};
  CHECK(::poll(&gone, 1, 2000) == 1);  // the held build died with its controller
  siginfo_t info{};
  (void)::waitid(P_PIDFD, static_cast<id_t>(build->fd.get()), &info, WEXITED);  // reparented to us
  CHECK(world.in_root().empty());
  CHECK(world.descendants().empty());
  CHECK(read_text(spec.log_path).find("hello") == std::string::npos);  // it never ran

  TestType reaper(world.config());
  CHECK_OK(reaper.kill_all(*unit, Millis(200)));
  auto survivors = reaper.survivors(*unit);
  REQUIRE_OK(survivors);
  CHECK(survivors->empty());
  CHECK_OK(reaper.release(*unit));
  if (TestType::kind == "cgroup" || TestType::kind == "default") CHECK_FALSE(exists(unit->cgroup_dir));
  CHECK(world.sentinels_alive());
}

// What signal_member refuses: anything outside the unit, even a process the
// caller names explicitly (the sentinels), and everything once released.
TEMPLATE_TEST_CASE("Linux supervisor signal_member refuses non-members, sentinels included", "[host]",
                   lx::SessionSupervisor, lx::CgroupSupervisor, lx::PidNamespaceSupervisor,
                   lx::DefaultSupervisor) {
  HOST_WORLD(world);
  TestType supervisor(world.config());
  auto unit = supervisor.unit_for(world.session_name());
  const SpawnSpec spec = spec_for<TestType>(world, {"/bin/sleeps_past_deadline"}, unit.session);
  REQUIRE_OK(supervisor.spawn(unit, spec));
  REQUIRE_OK(supervisor.launch(unit));
  for (const auto& sentinel : world.sentinels) {
    auto refused = supervisor.signal_member(unit, sentinel.pid, SIGKILL);
    CHECK_FALSE(refused);
    CHECK(refused.code() == 0);  // refused as a non-member, not failed
  }
  CHECK_FALSE(supervisor.signal_member(unit, ::getpid(), SIGKILL));
  auto members = supervisor.survivors(unit);
  REQUIRE_OK(members);
  REQUIRE_FALSE(members->empty());
  CHECK_OK(supervisor.signal_member(unit, members->back(), 0));
  CHECK_OK(supervisor.kill_all(unit, Millis(100)));
  CHECK_OK(supervisor.release(unit));
  CHECK(world.in_root().empty());
  CHECK(world.sentinels_alive());
}

// The other half of the handshake: a controller that forgets its unit before
// launch (destroys it, or dies with the fd closed) leaves the held build
// reading EOF, and it exits 127 without running anything.
TEMPLATE_TEST_CASE("Linux supervisor: a unit dropped before launch ends its held build", "[host]",
                   lx::SessionSupervisor, lx::CgroupSupervisor, lx::PidNamespaceSupervisor,
                   lx::DefaultSupervisor) {
  HOST_WORLD(world);
  TestType supervisor(world.config());
  const std::string session = world.session_name();
  const SpawnSpec spec = spec_for<TestType>(world, {"/bin/well_behaved"}, session);
  lx::UniqueFd build;
  {
    auto unit = supervisor.unit_for(session);
    REQUIRE_OK(supervisor.spawn(unit, spec));
    build.reset(static_cast<int>(::syscall(SYS_pidfd_open, unit.pid, 0u)));
    REQUIRE(build.valid());
  }
  pollfd gone{build.get(), POLLIN, 0};
  CHECK(::poll(&gone, 1, 2000) == 1);
  siginfo_t info{};
  REQUIRE(::waitid(P_PIDFD, static_cast<id_t>(build.get()), &info, WEXITED) == 0);
  CHECK(info.si_code == CLD_EXITED);
  CHECK(info.si_status == 127);
  CHECK(read_text(spec.log_path).find("hello") == std::string::npos);
  auto unit = supervisor.unit_for(session);  // what reap would rebuild from the name
  CHECK_OK(supervisor.kill_all(unit, Millis(100)));
  CHECK_OK(supervisor.release(unit));
  if (TestType::kind == "cgroup" || TestType::kind == "default") CHECK_FALSE(exists(unit.cgroup_dir));
  CHECK(world.in_root().empty());
  CHECK(world.sentinels_alive());
}

// I9: the wait polls the controller's interrupt fd beside the build's pidfd.
// A pipe stands in for the signalfd here: once it is readable the wait
// returns at once, saying interrupted, long before the deadline, and the
// build (still running) is ended by the same kill_all as after a deadline.
TEMPLATE_TEST_CASE("Linux supervisor: a readable interrupt fd ends the wait at once, as interrupted", "[host]",
                   lx::SessionSupervisor, lx::CgroupSupervisor, lx::PidNamespaceSupervisor,
                   lx::DefaultSupervisor) {
  HOST_WORLD(world);
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  lx::UniqueFd read_end(fds[0]), write_end(fds[1]);
  lx::SupervisorConfig config = world.config();
  config.interrupt_fd = read_end.get();
  TestType supervisor(config);
  const std::string session = world.session_name();
  auto unit = supervisor.unit_for(session);
  REQUIRE_OK(supervisor.spawn(unit, spec_for<TestType>(world, {"/bin/sleeps_past_deadline"}, session)));
  REQUIRE_OK(supervisor.launch(unit));
  std::thread interrupter([&] {
    std::this_thread::sleep_for(Millis(300));
    (void)!::write(write_end.get(), "i", 1);
  });
  const auto started = Clock::now();
  auto outcome = supervisor.wait(unit, Millis(20'000));
  const long waited = elapsed_ms(started);
  interrupter.join();
  REQUIRE_OK(outcome);
  CHECK(outcome->interrupted);
  CHECK_FALSE(outcome->timed_out);
  CHECK(waited >= 250);
  CHECK(waited < 5'000);
  auto members = supervisor.survivors(unit);
  REQUIRE_OK(members);
  CHECK_FALSE(members->empty());  // the build was still running: the wait did not wait for it
  CHECK_OK(supervisor.kill_all(unit, Millis(200)));
  CHECK_OK(supervisor.release(unit));
  CHECK(world.in_root().empty());
  CHECK(world.sentinels_alive());
}

// A record is read back by reap, so a tampered one must not make the
// supervisor remove or kill anything the configuration would not have made:
// here the record is well formed and names the session, but its cgroup paths
// point at a plain directory of the test.
TEMPLATE_TEST_CASE("Linux supervisor refuses a unit record whose cgroup paths are not its own", "[host]",
                   lx::CgroupSupervisor, lx::DefaultSupervisor) {
  HOST_WORLD(world);
  TestType supervisor(world.config());
  const std::string session = world.session_name();
  const std::string victim = world.scratch + "/victim/" + session;
  REQUIRE(::mkdir((world.scratch + "/victim").c_str(), 0755) == 0);
  REQUIRE(::mkdir(victim.c_str(), 0755) == 0);
  REQUIRE(::mkdir((victim + "/empty-child").c_str(), 0755) == 0);
  auto honest = supervisor.unit_for(session);
  const std::string honest_record = honest.serialize();
  auto fields = snapcell::linux_text::split(honest_record, ' ');
  std::string record;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    std::string field(fields[i]);
    if (i == 2) field = "/victim/" + session;
    if (i == 3) field = victim;
    record += (i ? " " : "") + field;
  }
  auto unit = TestType::Unit::parse(record);
  INFO(record);
  REQUIRE_OK(unit);
  REQUIRE(unit->belongs_to(session));  // well formed and named right: only the config can tell
  CHECK_FALSE(supervisor.release(*unit));
  CHECK_FALSE(supervisor.kill_all(*unit, Millis(10)));
  CHECK_FALSE(supervisor.survivors(*unit));
  CHECK_FALSE(lx::remove_leaf(victim));
  CHECK_FALSE(lx::cgroup_kill(victim));
  CHECK(exists(victim + "/empty-child"));
  CHECK_FALSE(exists(victim + "/cgroup.kill"));
  CHECK(world.sentinels_alive());
}
