#pragma once
// The child side of a spawn: what runs between clone3 and execve.
//
// The controller may have threads, so the cloned child is in the state of a
// child after fork(): another thread may have held the allocator's lock at
// the moment of the clone. The child therefore only makes async-signal-safe
// calls, and allocates nothing: every path, argv and envp is prepared in the
// parent (ChildPlan) before clone3, and the child only reads them.
//
// The sequence (after Bazel's linux-sandbox):
//   1. reset signal dispositions and the mask inherited from the controller;
//   2. prctl(PR_SET_PDEATHSIG, SIGKILL), then check that the parent is still
//      the controller: a controller that died before the prctl would never
//      send the signal (outside a new PID namespace only: inside one,
//      getppid() is always 0); the check that covers both cases is the
//      `ready` report in step 5, which the controller waits for in spawn();
//   3. setsid(): the build gets its own session and process group;
//   4. in the new mount namespace: make every mount private (nothing we do
//      propagates back to the host), bind the root onto itself, mount proc
//      (new PID namespace only: a proc instance shows the PID namespace of
//      its mounter, so outside a new one it would show the host's processes),
//      a tmpfs on /tmp, a minimal /dev, then pivot_root into it;
//   5. in a new network namespace: bring loopback up (the only interface);
//      then give up root: supplementary groups, gid, uid (raw syscalls, see
//      drop_identity), re-arm the death signal the credential change
//      cleared, RLIMIT_NPROC for the build's own uid, the working directory,
//      and no_new_privs (no setuid binary in the base hands root back);
//      report `ready` (or the failed step and errno) to the controller;
//   6. wait for the controller's "go" byte (launch); EOF means the controller
//      died before launch: _exit(127), the build never runs;
//   7. stdin from /dev/null, stdout and stderr to the log, close every other
//      fd, execve with a fixed minimal environment.
// In a new PID namespace the cloned child is the namespace's init (PID 1): it
// does steps 1-6, then forks the command (which does step 7), reaps every
// process until the command exits, and exits with the command's status; the
// kernel then kills whatever else is left in the namespace.
//
// pivot_root rather than chroot: after chroot the host's mounts are still in
// the namespace, one chroot("sub"); chdir("../..") away for a build running
// as root (which a build here does). pivot_root into a bind of the root and a
// lazy unmount of the old root leave nothing of the host's tree to escape to.
// It needs a mount point as the new root, hence the self-bind in step 4.

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/linux/sys.hpp"
#include "snapcell/names.hpp"
#include "snapcell/policies.hpp"

namespace snapcell::linux_sys {

// clone3's argument, as the kernel ABI defines it (include/uapi/linux/sched.h,
// CLONE_ARGS_SIZE_VER2). Declared here: <linux/sched.h> redefines glibc's
// CLONE_* macros.
struct CloneArgs {
  std::uint64_t flags = 0;
  std::uint64_t pidfd = 0;  // where the kernel stores the pidfd (CLONE_PIDFD)
  std::uint64_t child_tid = 0;
  std::uint64_t parent_tid = 0;
  std::uint64_t exit_signal = 0;
  std::uint64_t stack = 0;
  std::uint64_t stack_size = 0;
  std::uint64_t tls = 0;
  std::uint64_t set_tid = 0;
  std::uint64_t set_tid_size = 0;
  std::uint64_t cgroup = 0;  // a cgroup2 directory fd (CLONE_INTO_CGROUP)
};
static_assert(sizeof(CloneArgs) == 88, "clone_args VER2");

inline constexpr std::uint64_t clone_pidfd = 0x00001000ULL;
inline constexpr std::uint64_t clone_newns = 0x00020000ULL;
inline constexpr std::uint64_t clone_newpid = 0x20000000ULL;
inline constexpr std::uint64_t clone_newnet = 0x40000000ULL;
inline constexpr std::uint64_t clone_into_cgroup = 0x200000000ULL;

// The steps the child reports on; the parent turns a number and an errno
// into an Error naming the call and its target.
enum class ChildStep : std::int32_t {
  ready = 0,
  death_signal,
  parent_gone,
  setsid,
  join_cgroup_v1,
  make_private,
  bind_root,
  mount_proc,
  mount_tmp,
  mount_dev,
  dev_node,
  dev_mode,
  dev_link,
  enter_root,
  pivot_root,
  detach_old_root,
  chdir_root,
  loopback_up,
  drop_groups,
  set_gid,
  set_uid,
  set_nproc,
  working_dir,
  no_new_privs,
};

struct ChildReport {
  std::int32_t step = 0;
  std::int32_t error = 0;
  std::int32_t index = 0;  // which device node or v1 cgroup, for the steps that loop
};

// Everything the child needs, prepared before clone3. Sealed plans hold
// pointers into their own strings: a plan is not copied or moved once sealed.
struct ChildPlan {
  std::string root;
  std::string proc_dir, tmp_dir, dev_dir;
  std::vector<std::string> cgroup_v1_tasks;  // <leaf>/tasks of each v1 leaf to join (hybrid hosts)
  std::vector<std::string> device_targets;
  std::vector<dev_t> device_numbers;  // the host's, read from its /dev by prepare_child
  std::vector<std::string> link_targets, link_paths;
  std::vector<std::string> programs;  // candidate paths for argv[0], in order
  std::vector<std::string> arguments;
  std::vector<std::string> environment;
  bool namespace_init = false;  // the child is PID 1 of a new PID namespace
  bool private_network = false;  // in a new network namespace: bring loopback up
  std::int64_t uid = -1, gid = -1;  // -1: keep root
  rlim_t max_processes = 0;       // RLIMIT_NPROC of the build's uid; 0: not set
  std::string working_dir = "/";
  Pid controller = 0;           // getpid() of the controller, for the getppid check
  int channel = -1;             // the child's end of the handshake socket
  int parent_channel = -1;      // the controller's end: the child closes it first
  int log_fd = -1;
  int null_fd = -1;

  // Filled by seal(): what execve and the loops read.
  std::vector<char*> argv, envp;
  std::vector<const char*> program_ptrs;

  ChildPlan() = default;
  ChildPlan(const ChildPlan&) = delete;
  ChildPlan& operator=(const ChildPlan&) = delete;

  void seal() {
    argv.clear();
    envp.clear();
    program_ptrs.clear();
    for (auto& a : arguments) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : environment) envp.push_back(e.data());
    envp.push_back(nullptr);
    for (auto& p : programs) program_ptrs.push_back(p.c_str());
  }
};

inline const std::vector<std::string_view>& sandbox_devices() {
  static const std::vector<std::string_view> devices{"null", "zero", "full", "random", "urandom", "tty"};
  return devices;
}

// Builds the plan for `spec`. `namespace_init`: the child will be a new PID
// namespace's init (and mounts proc). The fds are the caller's; the plan
// borrows them.
inline Status prepare_child(ChildPlan& plan, const SpawnSpec& spec, bool namespace_init) {
  if (Status valid = validate_absolute_path("sandbox root", spec.root); !valid) return valid;
  if (spec.argv.empty() || spec.argv.front().empty()) return logic_error("prepare sandbox", spec.root, "empty argv");
  for (const auto& arg : spec.argv)
    if (arg.find('\0') != std::string::npos) return logic_error("prepare sandbox", arg, "argument holds a NUL byte");
  plan.root = spec.root;
  plan.proc_dir = spec.root + "/proc";
  plan.tmp_dir = spec.root + "/tmp";
  plan.dev_dir = spec.root + "/dev";
  plan.device_numbers.clear();
  plan.device_targets.clear();
  for (auto device : sandbox_devices()) {
    const std::string source = fmt::format("/dev/{}", device);
    struct stat st {};
    if (::stat(source.c_str(), &st) != 0) return errno_error("stat", source);
    if (!S_ISCHR(st.st_mode)) return logic_error("prepare sandbox", source, "is not a character device");
    plan.device_numbers.push_back(st.st_rdev);
    plan.device_targets.push_back(fmt::format("{}/{}", plan.dev_dir, device));
  }
  plan.link_targets = {"/proc/self/fd", "/proc/self/fd/0", "/proc/self/fd/1", "/proc/self/fd/2"};
  plan.link_paths.clear();
  for (auto name : {"fd", "stdin", "stdout", "stderr"}) plan.link_paths.push_back(plan.dev_dir + "/" + name);
  const std::string& program = spec.argv.front();
  // execve does no PATH search; the fixed PATH below is searched here, in
  // its order, so that "name" and "/bin/name" mean what a shell would make
  // of them inside the root.
  if (program.find('/') != std::string::npos) plan.programs = {program};
  else plan.programs = {"/usr/bin/" + program, "/bin/" + program};
  plan.arguments = spec.argv;
  plan.environment = {"PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8"};
  plan.namespace_init = namespace_init;
  plan.controller = ::getpid();
  const Isolation& isolation = spec.isolation;
  constexpr std::int64_t max_id = 0xfffffffeLL;  // (uid_t)-1 means "unchanged" to setresuid
  for (auto [what, id] : {std::pair{"uid", isolation.uid}, std::pair{"gid", isolation.gid}})
    if (id < -1 || id > max_id) return logic_error("prepare sandbox", spec.root, fmt::format("{} {} out of range", what, id));
  if ((isolation.uid == -1) != (isolation.gid == -1))
    return logic_error("prepare sandbox", spec.root, "uid and gid are set together or not at all");
  if (isolation.working_dir != "/")
    if (Status valid = validate_absolute_path("working directory", isolation.working_dir); !valid) return valid;
  plan.private_network = isolation.private_network;
  plan.uid = isolation.uid;
  plan.gid = isolation.gid;
  plan.working_dir = isolation.working_dir;
  // RLIMIT_NPROC counts every process of the real uid and root is exempt:
  // it bounds a build only when the build has a uid of its own.
  plan.max_processes = isolation.uid > 0 && spec.limits.max_processes > 0 ? static_cast<rlim_t>(spec.limits.max_processes) : 0;
  return {};
}

// The operation and target a child's report names.
inline Error describe_child_failure(const ChildPlan& plan, const ChildReport& report) {
  const auto item = [&](const std::vector<std::string>& list) {
    return report.index >= 0 && static_cast<std::size_t>(report.index) < list.size() ? list[report.index]
                                                                                      : std::string("?");
  };
  const int code = report.error;
  switch (static_cast<ChildStep>(report.step)) {
    case ChildStep::death_signal: return errno_error("prctl(PR_SET_PDEATHSIG)", plan.root, code);
    case ChildStep::parent_gone: return logic_error("handshake", plan.root, "controller died before the child armed its death signal");
    case ChildStep::setsid: return errno_error("setsid", plan.root, code);
    case ChildStep::join_cgroup_v1: return errno_error("write 0 to", item(plan.cgroup_v1_tasks), code);
    case ChildStep::make_private: return errno_error("mount(MS_REC|MS_PRIVATE)", "/", code);
    case ChildStep::bind_root: return errno_error("mount(MS_BIND|MS_REC)", plan.root, code);
    case ChildStep::mount_proc: return errno_error("mount(proc)", plan.proc_dir, code);
    case ChildStep::mount_tmp: return errno_error("mount(tmpfs)", plan.tmp_dir, code);
    case ChildStep::mount_dev: return errno_error("mount(tmpfs)", plan.dev_dir, code);
    case ChildStep::dev_node: return errno_error("mknod", item(plan.device_targets), code);
    case ChildStep::dev_mode: return errno_error("chmod", item(plan.device_targets), code);
    case ChildStep::dev_link: return errno_error("symlink", item(plan.link_paths), code);
    case ChildStep::enter_root: return errno_error("chdir", plan.root, code);
    case ChildStep::pivot_root: return errno_error("pivot_root", plan.root, code);
    case ChildStep::detach_old_root: return errno_error("umount2(MNT_DETACH)", "old root", code);
    case ChildStep::chdir_root: return errno_error("chdir", "/", code);
    case ChildStep::loopback_up: return errno_error("ioctl(SIOCSIFFLAGS)", "lo", code);
    case ChildStep::drop_groups: return errno_error("setgroups", plan.root, code);
    case ChildStep::set_gid: return errno_error("setresgid", std::to_string(plan.gid), code);
    case ChildStep::set_uid: return errno_error("setresuid", std::to_string(plan.uid), code);
    case ChildStep::set_nproc: return errno_error("setrlimit(RLIMIT_NPROC)", std::to_string(plan.uid), code);
    case ChildStep::working_dir: return errno_error("chdir", plan.working_dir, code);
    case ChildStep::no_new_privs: return errno_error("prctl(PR_SET_NO_NEW_PRIVS)", plan.root, code);
    case ChildStep::ready: break;
  }
  return logic_error("sandbox child", plan.root, fmt::format("unknown report step {}", report.step));
}

namespace child {

// Only async-signal-safe calls from here on, and no allocation.

inline void report(const ChildPlan& plan, ChildStep step, int error, int index = 0) noexcept {
  const ChildReport message{static_cast<std::int32_t>(step), error, index};
  // MSG_NOSIGNAL: a controller that is gone must not take the child down
  // with SIGPIPE before it can _exit on its own terms.
  (void)::send(plan.channel, &message, sizeof message, MSG_NOSIGNAL);
}

[[noreturn]] inline void fail(const ChildPlan& plan, ChildStep step, int index = 0) noexcept {
  report(plan, step, errno, index);
  ::_exit(127);
}

inline void write_text(int fd, const char* text) noexcept {
  std::size_t length = 0;
  while (text[length] != '\0') ++length;
  (void)!::write(fd, text, length);
}

inline void write_number(int fd, long value) noexcept {
  char digits[24];
  int at = static_cast<int>(sizeof digits);
  const bool negative = value < 0;
  unsigned long magnitude = negative ? 0ul - static_cast<unsigned long>(value) : static_cast<unsigned long>(value);
  do {
    digits[--at] = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude != 0 && at > 1);
  if (negative) digits[--at] = '-';
  (void)!::write(fd, digits + at, sizeof digits - static_cast<std::size_t>(at));
}

// Handlers the controller installed would run controller code in the child,
// and SIG_IGN survives execve: the build starts from the defaults, with an
// empty mask (the parent blocked everything around clone3).
inline void reset_signals() noexcept {
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  for (int signal = 1; signal < NSIG; ++signal) {
    if (signal == SIGKILL || signal == SIGSTOP) continue;
    (void)::sigaction(signal, &action, nullptr);  // glibc's reserved signals answer EINVAL: fine
  }
  sigset_t none;
  sigemptyset(&none);
  (void)::sigprocmask(SIG_SETMASK, &none, nullptr);
}

inline void handshake(const ChildPlan& plan) noexcept {
  if (plan.parent_channel >= 0) ::close(plan.parent_channel);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail(plan, ChildStep::death_signal);
  // The controller may have died before the prctl: then we were reparented
  // and no death signal will come. Outside a new PID namespace getppid()
  // tells; inside one it is 0 whatever happens, and the ready report (which
  // the controller must be alive to receive) is the proof instead.
  if (!plan.namespace_init && ::getppid() != plan.controller) {
    errno = ESRCH;
    fail(plan, ChildStep::parent_gone);
  }
  if (::setsid() < 0) fail(plan, ChildStep::setsid);
}

// Hybrid hosts keep the pids and memory limits in v1 leaves, and v1 has no
// CLONE_INTO_CGROUP. The child moves itself by writing "0" (the calling
// thread) to each leaf's `tasks`: a thread moving itself is the one case
// where the kernel skips the global threadgroup lock, whose write side
// waits for an RCU grace period. Measured on this kind of host: 12 ms for
// the controller writing the child's pid to cgroup.procs, 0.06 ms for this.
// The child has a single thread, so its one thread is the whole process;
// the controller checks the membership from /proc once the child is ready.
inline void join_cgroups_v1(const ChildPlan& plan) noexcept {
  for (std::size_t i = 0; i < plan.cgroup_v1_tasks.size(); ++i) {
    const int fd = ::open(plan.cgroup_v1_tasks[i].c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) fail(plan, ChildStep::join_cgroup_v1, static_cast<int>(i));
    if (::write(fd, "0", 1) != 1) fail(plan, ChildStep::join_cgroup_v1, static_cast<int>(i));
    ::close(fd);
  }
}

inline void build_root(const ChildPlan& plan) noexcept {
  // Runs in the child's own mount namespace (CLONE_NEWNS): nothing below
  // can reach the host's mount table, and rprivate keeps it that way.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail(plan, ChildStep::make_private);
  if (::mount(plan.root.c_str(), plan.root.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    fail(plan, ChildStep::bind_root);
  if (plan.namespace_init &&
      ::mount("proc", plan.proc_dir.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    fail(plan, ChildStep::mount_proc);
  if (::mount("tmpfs", plan.tmp_dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0)
    fail(plan, ChildStep::mount_tmp);
  if (::mount("tmpfs", plan.dev_dir.c_str(), "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k") != 0)
    fail(plan, ChildStep::mount_dev);
  for (std::size_t i = 0; i < plan.device_targets.size(); ++i) {
    const int index = static_cast<int>(i);
    if (::mknod(plan.device_targets[i].c_str(), S_IFCHR | 0666, plan.device_numbers[i]) != 0)
      fail(plan, ChildStep::dev_node, index);
    if (::chmod(plan.device_targets[i].c_str(), 0666) != 0) fail(plan, ChildStep::dev_mode, index);
  }
  for (std::size_t i = 0; i < plan.link_paths.size(); ++i)
    if (::symlink(plan.link_targets[i].c_str(), plan.link_paths[i].c_str()) != 0)
      fail(plan, ChildStep::dev_link, static_cast<int>(i));
  // pivot_root(".", "."): the old root ends up stacked under the new one at
  // "/", and the lazy unmount of "." takes it away (the runc idiom; it needs
  // no directory inside the root to park the old one in).
  if (::chdir(plan.root.c_str()) != 0) fail(plan, ChildStep::enter_root);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) fail(plan, ChildStep::pivot_root);
  if (::umount2(".", MNT_DETACH) != 0) fail(plan, ChildStep::detach_old_root);
  if (::chdir("/") != 0) fail(plan, ChildStep::chdir_root);
}

// A fresh network namespace has one interface, loopback, and it is down.
inline void bring_up_loopback(const ChildPlan& plan) noexcept {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(plan, ChildStep::loopback_up);
  ifreq request{};
  std::memcpy(request.ifr_name, "lo", 3);
  if (::ioctl(fd, SIOCGIFFLAGS, &request) != 0) fail(plan, ChildStep::loopback_up);
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP | IFF_RUNNING);
  if (::ioctl(fd, SIOCSIFFLAGS, &request) != 0) fail(plan, ChildStep::loopback_up);
  ::close(fd);
}

// Raw syscalls, not glibc's setres[ug]id: glibc applies those to every thread
// of the process it believes it is (the controller, threads and all, copied
// by the clone) by signalling each one, and this child has none of them.
inline void drop_identity(const ChildPlan& plan) noexcept {
  if (plan.uid < 0) return;
  if (::syscall(SYS_setgroups, 0, nullptr) != 0) fail(plan, ChildStep::drop_groups);
  const auto gid = static_cast<gid_t>(plan.gid);
  const auto uid = static_cast<uid_t>(plan.uid);
  if (::syscall(SYS_setresgid, gid, gid, gid) != 0) fail(plan, ChildStep::set_gid);
  if (plan.max_processes > 0) {
    // Set while still root: it may exceed the hard limit the uid would get.
    const rlimit bound{plan.max_processes, plan.max_processes};
    if (::setrlimit(RLIMIT_NPROC, &bound) != 0) fail(plan, ChildStep::set_nproc);
  }
  if (::syscall(SYS_setresuid, uid, uid, uid) != 0) fail(plan, ChildStep::set_uid);
  // A change of credentials clears the death signal: armed again, and the
  // controller checked again, as in handshake().
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail(plan, ChildStep::death_signal);
  if (!plan.namespace_init && ::getppid() != plan.controller) {
    errno = ESRCH;
    fail(plan, ChildStep::parent_gone);
  }
}

inline void restrict(const ChildPlan& plan) noexcept {
  if (plan.private_network) bring_up_loopback(plan);
  drop_identity(plan);
  if (::chdir(plan.working_dir.c_str()) != 0) fail(plan, ChildStep::working_dir);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(plan, ChildStep::no_new_privs);
}

// Blocks until launch() writes the go byte. EOF: the controller is gone.
inline void await_go(const ChildPlan& plan) noexcept {
  char go = 0;
  for (;;) {
    const ssize_t n = ::read(plan.channel, &go, 1);
    if (n == 1) return;
    if (n < 0 && errno == EINTR) continue;
    ::_exit(127);
  }
}

inline void redirect_stdio(const ChildPlan& plan) noexcept {
  if (::dup2(plan.null_fd, 0) < 0 || ::dup2(plan.log_fd, 1) < 0 || ::dup2(plan.log_fd, 2) < 0) ::_exit(127);
  // Everything else goes: the handshake socket, the log's original fd, and
  // whatever the controller had open without O_CLOEXEC.
  if (::syscall(SYS_close_range, 3u, ~0u, 0u) != 0) {
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
  }
}

[[noreturn]] inline void exec_command(const ChildPlan& plan) noexcept {
  int error = ENOENT;
  for (const char* program : plan.program_ptrs) {
    ::execve(program, plan.argv.data(), plan.envp.data());
    error = errno;
    if (error != ENOENT) break;
  }
  write_text(2, "snapcell: execve ");
  write_text(2, plan.argv[0]);
  write_text(2, " failed: errno ");
  write_number(2, error);
  write_text(2, "\n");
  ::_exit(127);
}

// PID 1 of the build's namespace. It only forks the command and reaps; its
// exit takes the namespace down with it.
[[noreturn]] inline void run_init(const ChildPlan& plan) noexcept {
  redirect_stdio(plan);
  // vfork, not fork(): glibc's fork runs atfork handlers and takes locks a
  // thread of the controller may have held when we were cloned; vfork is a
  // bare syscall. It also copies no page tables (the init is a copy of the
  // whole controller): measured, 0.2 of the 0.4 ms this second process
  // costs a turnaround. The child only calls execve, write and _exit.
  const pid_t command = ::vfork();
  if (command < 0) {
    write_text(2, "snapcell: init: vfork failed: errno ");
    write_number(2, errno);
    write_text(2, "\n");
    ::_exit(127);
  }
  if (command == 0) exec_command(plan);
  for (;;) {
    int status = 0;
    const pid_t reaped = ::waitpid(-1, &status, __WALL);
    if (reaped < 0) {
      if (errno == EINTR) continue;
      ::_exit(127);  // ECHILD before the command was reaped: cannot happen
    }
    if (reaped != command) continue;  // an orphan reparented to us: reaped, nothing more
    // Exiting ends the namespace: the kernel SIGKILLs the rest.
    if (WIFEXITED(status)) ::_exit(WEXITSTATUS(status));
    ::_exit(128 + WTERMSIG(status));
  }
}

// The whole child. Never returns.
[[noreturn]] inline void run(const ChildPlan& plan) noexcept {
  reset_signals();
  handshake(plan);
  join_cgroups_v1(plan);
  build_root(plan);
  restrict(plan);
  report(plan, ChildStep::ready, 0);
  await_go(plan);
  if (plan.namespace_init) run_init(plan);
  // Outside a PID namespace the command is the cloned child itself. Once
  // launched it no longer dies with the controller (the fake's semantics):
  // a crashed controller's build is reap's to end, through its unit.
  (void)::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  redirect_stdio(plan);
  exec_command(plan);
}

}  // namespace child

struct ClonedChild {
  Pid pid = 0;
  int pidfd = -1;  // owned by the caller
};

// clone3 with CLONE_PIDFD and `flags` (CLONE_NEWNS and the rest), into the
// cgroup `cgroup_fd` when it is >= 0; the child runs child::run(plan). All
// signals are blocked around the clone so that no handler of the controller
// runs in the child before it resets them.
inline Result<ClonedChild> clone_child(ChildPlan& plan, std::uint64_t flags, int cgroup_fd) {
  plan.seal();
  int pidfd = -1;
  CloneArgs args;
  args.flags = flags | clone_pidfd;
  args.pidfd = reinterpret_cast<std::uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) {
    args.flags |= clone_into_cgroup;
    args.cgroup = static_cast<std::uint64_t>(cgroup_fd);
  }
  sigset_t all, previous;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  const long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) child::run(plan);
  const int code = errno;
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (pid < 0) return errno_error("clone3", plan.root, code);
  return ClonedChild{static_cast<Pid>(pid), pidfd};
}

}  // namespace snapcell::linux_sys
