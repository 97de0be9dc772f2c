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
//      then a cgroup namespace of its own (after the v1 joins, so that its
//      root is the build's own leaf in every hierarchy);
//      in a new user namespace (Isolation::user_namespace): wait for the
//      controller to write its map and send the root as an idmapped tree
//      (receive_root);
//   4. in the new mount namespace: make every mount private (nothing we do
//      propagates back to the host), bind the root onto itself (or attach
//      the idmapped root over it) and enter it (enter_root); in a user
//      namespace, only then become its root (become_namespace_root: its
//      root may not look up the host's path to the root); then, by names
//      relative to the root, mount proc
//      (new PID namespace only: a proc instance shows the PID namespace of
//      its mounter, so outside a new one it would show the host's processes)
//      with the host's kernel knobs read-only and its kernel internals
//      masked (proc_masks below), a size-capped tmpfs on /tmp, a nodev tmpfs
//      on /dev with the host's few harmless device nodes bound in, then
//      pivot_root into it;
//   5. name the machine "snapcell" (in its own UTS namespace); in a new
//      network namespace: bring loopback up (the only interface);
//      cut the capability bounding set (capabilities.hpp) while still
//      holding CAP_SETPCAP, then give up root: supplementary groups, gid,
//      uid (raw syscalls, see drop_identity), re-arm the death signal the
//      credential change cleared, RLIMIT_NPROC for the build's own uid
//      (and, with no cgroup, RLIMIT_DATA: LimitsHeldBy), the working
//      directory; cut the effective, permitted, inheritable and
//      ambient sets to the kept list (root) or to nothing; no_new_privs (no
//      setuid binary in the base hands root back); the seccomp filter
//      (seccomp_filter.hpp), last, as it denies mount and the rest;
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
#include "snapcell/linux/capabilities.hpp"
#include "snapcell/linux/idmap.hpp"
#include "snapcell/linux/seccomp_filter.hpp"
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
inline constexpr std::uint64_t clone_newuts = 0x04000000ULL;
inline constexpr std::uint64_t clone_newuser = 0x10000000ULL;
inline constexpr std::uint64_t clone_newipc = 0x08000000ULL;
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
  set_data_limit,
  working_dir,
  no_new_privs,
  cgroup_namespace,
  proc_read_only,
  proc_mask,
  cap_bounding,
  cap_sets,
  cap_ambient,
  seccomp,
  hostname,
  await_map,
  attach_root,
};

struct ChildReport {
  std::int32_t step = 0;
  std::int32_t error = 0;
  std::int32_t index = 0;  // which device node or v1 cgroup, for the steps that loop
};

// Everything the child needs, prepared before clone3. Sealed plans hold
// pointers into their own strings: a plan is not copied or moved once sealed.
//
// The paths of what is mounted inside the root (proc_dir ... link_paths) are
// relative to it: the child works from inside the root, its working
// directory once entered, and never looks up the host's path to the root
// again. Root of a user namespace could not: the state dir above a
// snapshot belongs to the host's root, mode 0700, and is not its own.
struct ChildPlan {
  std::string root;
  std::string proc_dir, tmp_dir, dev_dir;  // "proc", "tmp", "dev"
  std::vector<std::string> cgroup_v1_tasks;  // <leaf>/tasks of each v1 leaf to join (hybrid hosts)
  std::string tmp_options;  // "mode=1777,size=N": /tmp is capped
  std::vector<std::string> device_sources, device_targets;  // the host's nodes, bound onto empty files
  std::vector<std::string> proc_read_only;  // bound read-only over themselves
  std::vector<std::string> proc_masked_files, proc_masked_dirs;  // /dev/null, or an empty read-only tmpfs, on top
  std::string null_device;  // the root's /dev/null once bound: what masks a file
  std::vector<int> bounding_drops;  // capability numbers out of the bounding set
  CapabilitySets kept_sets, no_sets;  // capset(2) arguments: root keeps the list, any other uid nothing
  std::vector<sock_filter> seccomp_filter;
  sock_fprog seccomp_program{};
  std::vector<std::string> link_targets, link_paths;
  std::vector<std::string> programs;  // candidate paths for argv[0], in order
  std::vector<std::string> arguments;
  std::vector<std::string> environment;
  bool namespace_init = false;  // the child is PID 1 of a new PID namespace
  bool private_network = false;  // in a new network namespace: bring loopback up
  bool user_namespace = false;  // root of a new user namespace, the root seen through an idmapped mount
  bool root_shifted = false;    // ... or as it is: it shows the namespace's ids already
  std::int64_t uid = -1, gid = -1;  // -1: keep root (of the user namespace, when there is one)
  rlim_t max_processes = 0;       // RLIMIT_NPROC of the build's uid; 0: not set
  rlim_t max_data_bytes = 0;      // RLIMIT_DATA of every process (no cgroup holds the memory); 0: not set
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
    seccomp_program.len = static_cast<unsigned short>(seccomp_filter.size());
    seccomp_program.filter = seccomp_filter.data();
  }
};

inline const std::vector<std::string_view>& sandbox_devices() {
  static const std::vector<std::string_view> devices{"null", "zero", "full", "random", "urandom", "tty"};
  return devices;
}

// What of the build's /proc is read-only or masked (runc's and bubblewrap's
// lists). Read-only: the host's kernel knobs (sysctls, the sysrq trigger,
// interrupt affinities, bus and filesystem settings: a new PID namespace
// does not scope them). Masked: what shows the host kernel's memory, log,
// keys and internals. Those this kernel does not have are skipped.
struct ProcPolicy {
  std::vector<std::string_view> read_only{"sys", "sysrq-trigger", "irq", "bus", "fs"};
  std::vector<std::string_view> masked{"kcore", "kmsg", "keys", "timer_list", "sched_debug", "acpi"};
};
inline const ProcPolicy& proc_policy() {
  static const ProcPolicy policy;
  return policy;
}

// The name a build sees for its machine, in its own UTS namespace: the same
// for every build (a name baked into an artifact does not vary with the
// worker), and without a UTS namespace this would rename the host, which
// verify's host checks see.
inline constexpr char sandbox_hostname[] = "snapcell";

// /tmp's cap when a spec asks for none.
inline constexpr std::uint64_t default_tmp_bytes = 1ull << 30;

// Where no cgroup holds a session's limits (the pidns and session
// supervisors), the sandbox holds what rlimits can:
// - processes: RLIMIT_NPROC counts the processes of one real uid, so the
//   sandbox keeps to one: CAP_SETUID leaves the bounding set and root of
//   the namespace cannot setuid to the range's other ids, each of which
//   would start a count of its own (no_new_privs already stops setuid
//   binaries). The host's root is exempt from RLIMIT_NPROC whatever we do.
// - memory: RLIMIT_DATA (private writable mappings and the heap) of each
//   process. A bound per process, not a total: a build of N processes may
//   hold N times it. Only a cgroup's memory.max holds a total.
// Under a cgroup supervisor neither is set: pids.max and memory.max count
// every uid, and apt/su inside keep their setuid.
enum class LimitsHeldBy { cgroup, rlimits };

// Builds the plan for `spec`. `namespace_init`: the child will be a new PID
// namespace's init (and mounts proc). `limits_held_by`: no default, as a
// supervisor without a cgroup that forgot to say so would run uncapped.
// The fds are the caller's; the plan borrows them.
inline Status prepare_child(ChildPlan& plan, const SpawnSpec& spec, bool namespace_init, LimitsHeldBy limits_held_by) {
  if (Status valid = validate_absolute_path("sandbox root", spec.root); !valid) return valid;
  if (spec.argv.empty() || spec.argv.front().empty()) return logic_error("prepare sandbox", spec.root, "empty argv");
  for (const auto& arg : spec.argv)
    if (arg.find('\0') != std::string::npos) return logic_error("prepare sandbox", arg, "argument holds a NUL byte");
  plan.root = spec.root;
  plan.proc_dir = "proc";
  plan.tmp_dir = "tmp";
  plan.dev_dir = "dev";
  const std::uint64_t tmp_bytes = spec.isolation.tmp_bytes > 0 ? spec.isolation.tmp_bytes : default_tmp_bytes;
  plan.tmp_options = fmt::format("mode=1777,size={}", tmp_bytes);
  plan.device_sources.clear();
  plan.device_targets.clear();
  for (auto device : sandbox_devices()) {
    const std::string source = fmt::format("/dev/{}", device);
    struct stat st {};
    if (::stat(source.c_str(), &st) != 0) return errno_error("stat", source);
    if (!S_ISCHR(st.st_mode)) return logic_error("prepare sandbox", source, "is not a character device");
    plan.device_sources.push_back(source);
    plan.device_targets.push_back(fmt::format("{}/{}", plan.dev_dir, device));
  }
  plan.null_device = plan.dev_dir + "/null";
  plan.proc_read_only.clear();
  plan.proc_masked_files.clear();
  plan.proc_masked_dirs.clear();
  if (namespace_init) {
    // The build's proc is a new instance of the same kernel's: what the
    // host's shows, it shows.
    for (auto name : proc_policy().read_only) {
      struct stat st {};
      if (::lstat(fmt::format("/proc/{}", name).c_str(), &st) == 0) plan.proc_read_only.push_back(fmt::format("{}/{}", plan.proc_dir, name));
    }
    for (auto name : proc_policy().masked) {
      struct stat st {};
      if (::lstat(fmt::format("/proc/{}", name).c_str(), &st) != 0) continue;
      (S_ISDIR(st.st_mode) ? plan.proc_masked_dirs : plan.proc_masked_files).push_back(fmt::format("{}/{}", plan.proc_dir, name));
    }
  }
  auto last_cap = last_capability();
  if (!last_cap) return last_cap.status();
  const bool rlimits_hold = limits_held_by == LimitsHeldBy::rlimits;
  const std::uint64_t kept = rlimits_hold ? kept_capability_mask() & ~(std::uint64_t{1} << CAP_SETUID) : kept_capability_mask();
  plan.bounding_drops = bounding_drops(*last_cap, kept);
  // Never more than the controller holds: capset may only lower.
  CapabilitySets held;
  if (::syscall(SYS_capget, &held.header, held.data) != 0) return errno_error("capget", "self");
  const std::uint64_t permitted = held.data[0].permitted | (std::uint64_t{held.data[1].permitted} << 32);
  plan.kept_sets = capability_sets(kept & permitted);
  plan.no_sets = capability_sets(0);
  plan.seccomp_filter = seccomp_program();
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
  plan.user_namespace = isolation.user_namespace.count > 0;
  plan.root_shifted = plan.user_namespace && isolation.root_shifted;
  if (plan.user_namespace)
    if (Status valid = validate_id_range(isolation.user_namespace); !valid) return valid;
  // (uid_t)-1 means "unchanged" to setresuid; in a user namespace only its
  // own ids exist.
  const std::int64_t max_id = plan.user_namespace ? std::int64_t{isolation.user_namespace.count} - 1 : 0xfffffffeLL;
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
  // RLIMIT_NPROC counts every process of the real uid and the host's root
  // is exempt: it bounds a build that has a uid of its own, and root of a
  // user namespace (a leased host uid without the host's CAP_SYS_RESOURCE,
  // counted per namespace).
  const bool own_uid = isolation.uid > 0 || plan.user_namespace;
  plan.max_processes = own_uid && spec.limits.max_processes > 0 ? static_cast<rlim_t>(spec.limits.max_processes) : 0;
  plan.max_data_bytes = rlimits_hold ? static_cast<rlim_t>(spec.limits.max_memory_bytes) : 0;
  return {};
}

// The operation and target a child's report names.
inline Error describe_child_failure(const ChildPlan& plan, const ChildReport& report) {
  const auto item = [&](const std::vector<std::string>& list) {
    return report.index >= 0 && static_cast<std::size_t>(report.index) < list.size() ? list[report.index]
                                                                                      : std::string("?");
  };
  // Where a path inside the root is on the host (plan paths below the root are relative).
  const auto inside = [&](const std::string& path) { return path.starts_with('/') ? path : plan.root + "/" + path; };
  const auto inside_item = [&](const std::vector<std::string>& list) { return inside(item(list)); };
  const int code = report.error;
  switch (static_cast<ChildStep>(report.step)) {
    case ChildStep::death_signal: return errno_error("prctl(PR_SET_PDEATHSIG)", plan.root, code);
    case ChildStep::parent_gone: return logic_error("handshake", plan.root, "controller died before the child armed its death signal");
    case ChildStep::setsid: return errno_error("setsid", plan.root, code);
    case ChildStep::join_cgroup_v1: return errno_error("write 0 to", item(plan.cgroup_v1_tasks), code);
    case ChildStep::make_private: return errno_error("mount(MS_REC|MS_PRIVATE)", "/", code);
    case ChildStep::bind_root: return errno_error("mount(MS_BIND|MS_REC)", plan.root, code);
    case ChildStep::mount_proc: return errno_error("mount(proc)", inside(plan.proc_dir), code);
    case ChildStep::mount_tmp: return errno_error("mount(tmpfs)", inside(plan.tmp_dir), code);
    case ChildStep::mount_dev: return errno_error("mount(tmpfs)", inside(plan.dev_dir), code);
    case ChildStep::dev_node: return errno_error("create", inside_item(plan.device_targets), code);
    case ChildStep::dev_mode: return errno_error("mount(MS_BIND)", item(plan.device_sources), code);
    case ChildStep::dev_link: return errno_error("symlink", inside_item(plan.link_paths), code);
    case ChildStep::enter_root: return errno_error("chdir", plan.root, code);
    case ChildStep::pivot_root: return errno_error("pivot_root", plan.root, code);
    case ChildStep::detach_old_root: return errno_error("umount2(MNT_DETACH)", "old root", code);
    case ChildStep::chdir_root: return errno_error("chdir", "/", code);
    case ChildStep::loopback_up: return errno_error("ioctl(SIOCSIFFLAGS)", "lo", code);
    case ChildStep::drop_groups: return errno_error("setgroups", plan.root, code);
    case ChildStep::set_gid: return errno_error("setresgid", std::to_string(plan.gid), code);
    case ChildStep::set_uid: return errno_error("setresuid", std::to_string(plan.uid), code);
    case ChildStep::set_nproc: return errno_error("setrlimit(RLIMIT_NPROC)", std::to_string(plan.uid), code);
    case ChildStep::set_data_limit: return errno_error("setrlimit(RLIMIT_DATA)", std::to_string(plan.max_data_bytes), code);
    case ChildStep::working_dir: return errno_error("chdir", plan.working_dir, code);
    case ChildStep::no_new_privs: return errno_error("prctl(PR_SET_NO_NEW_PRIVS)", plan.root, code);
    case ChildStep::cgroup_namespace: return errno_error("unshare(CLONE_NEWCGROUP)", plan.root, code);
    case ChildStep::proc_read_only: return errno_error("mount(MS_BIND|MS_RDONLY)", inside_item(plan.proc_read_only), code);
    case ChildStep::proc_mask: {
      const bool file = report.index >= 0 && static_cast<std::size_t>(report.index) < plan.proc_masked_files.size();
      const std::string target =
          file ? plan.proc_masked_files[report.index]
               : (static_cast<std::size_t>(report.index) - plan.proc_masked_files.size() < plan.proc_masked_dirs.size()
                      ? plan.proc_masked_dirs[report.index - plan.proc_masked_files.size()]
                      : std::string("?"));
      return errno_error(file ? "mount(MS_BIND /dev/null)" : "mount(tmpfs, MS_RDONLY)", inside(target), code);
    }
    case ChildStep::cap_bounding: return errno_error("prctl(PR_CAPBSET_DROP)", fmt::format("capability {}", report.index), code);
    case ChildStep::cap_sets: return errno_error("capset", plan.root, code);
    case ChildStep::cap_ambient: return errno_error("prctl(PR_CAP_AMBIENT_CLEAR_ALL)", plan.root, code);
    case ChildStep::seccomp: return errno_error("prctl(PR_SET_SECCOMP)", plan.root, code);
    case ChildStep::hostname: return errno_error("sethostname", sandbox_hostname, code);
    case ChildStep::await_map: return errno_error("recvmsg(idmapped root)", plan.root, code);
    case ChildStep::attach_root: return errno_error("move_mount(idmapped root)", plan.root, code);
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
  // Its own cgroup namespace, rooted at the leaves just joined: the build
  // sees "/" as its cgroup, and nothing of the host's hierarchy above it.
  if (::unshare(CLONE_NEWCGROUP) != 0) fail(plan, ChildStep::cgroup_namespace);
}

// proc, then its hardening: binds read-only over the host's knobs, and
// /dev/null or an empty read-only tmpfs over what must not be seen. The
// read-only remount of a bind keeps proc's own nosuid, nodev and noexec.
inline void mount_proc(const ChildPlan& plan) noexcept {
  constexpr unsigned long proc_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (::mount("proc", plan.proc_dir.c_str(), "proc", proc_flags, nullptr) != 0) fail(plan, ChildStep::mount_proc);
  for (std::size_t i = 0; i < plan.proc_read_only.size(); ++i) {
    const char* path = plan.proc_read_only[i].c_str();
    if (::mount(path, path, nullptr, MS_BIND | MS_REC, nullptr) != 0 ||
        ::mount(nullptr, path, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | proc_flags, nullptr) != 0)
      fail(plan, ChildStep::proc_read_only, static_cast<int>(i));
  }
  const std::size_t files = plan.proc_masked_files.size();
  for (std::size_t i = 0; i < files; ++i)
    if (::mount(plan.null_device.c_str(), plan.proc_masked_files[i].c_str(), nullptr, MS_BIND, nullptr) != 0)
      fail(plan, ChildStep::proc_mask, static_cast<int>(i));
  for (std::size_t i = 0; i < plan.proc_masked_dirs.size(); ++i)
    if (::mount("tmpfs", plan.proc_masked_dirs[i].c_str(), "tmpfs", MS_RDONLY | proc_flags, "size=4k,mode=555") != 0)
      fail(plan, ChildStep::proc_mask, static_cast<int>(files + i));
}

// Makes the root a mount of the child's own and its working directory: a
// bind of it onto itself, or, in a user namespace, `root_tree` (the root
// shifted through it, receive_root) attached over it. Runs in the child's
// own mount namespace (CLONE_NEWNS): nothing below can reach the host's
// mount table, and rprivate keeps it that way. In a user namespace this
// runs before the child takes the namespace's ids, while it may still look
// up the host's path to the root (see ChildPlan).
inline void enter_root(const ChildPlan& plan, int root_tree) noexcept {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail(plan, ChildStep::make_private);
  if (root_tree >= 0) {
    if (::move_mount(root_tree, "", AT_FDCWD, plan.root.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
      fail(plan, ChildStep::attach_root);
    if (::fchdir(root_tree) != 0) fail(plan, ChildStep::enter_root);
    ::close(root_tree);
    return;
  }
  if (::mount(plan.root.c_str(), plan.root.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    fail(plan, ChildStep::bind_root);
  if (::chdir(plan.root.c_str()) != 0) fail(plan, ChildStep::enter_root);
}

// Inside the entered root: its /tmp, /dev and /proc, then the pivot into it.
inline void build_root(const ChildPlan& plan) noexcept {
  if (::mount("tmpfs", plan.tmp_dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, plan.tmp_options.c_str()) != 0)
    fail(plan, ChildStep::mount_tmp);
  // nodev: a device node the build makes here (were it to get CAP_MKNOD
  // back) does not open. The few it needs are the host's own nodes, bound
  // in: a bind keeps the mount flags of its source (the host's /dev).
  if (::mount("tmpfs", plan.dev_dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755,size=64k") != 0)
    fail(plan, ChildStep::mount_dev);
  for (std::size_t i = 0; i < plan.device_targets.size(); ++i) {
    const int index = static_cast<int>(i);
    const int fd = ::open(plan.device_targets[i].c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) fail(plan, ChildStep::dev_node, index);
    ::close(fd);
    if (::mount(plan.device_sources[i].c_str(), plan.device_targets[i].c_str(), nullptr, MS_BIND, nullptr) != 0)
      fail(plan, ChildStep::dev_mode, index);
  }
  if (plan.namespace_init) mount_proc(plan);
  for (std::size_t i = 0; i < plan.link_paths.size(); ++i)
    if (::symlink(plan.link_targets[i].c_str(), plan.link_paths[i].c_str()) != 0)
      fail(plan, ChildStep::dev_link, static_cast<int>(i));
  // pivot_root(".", "."): the old root ends up stacked under the new one at
  // "/", and the lazy unmount of "." takes it away (the runc idiom; it needs
  // no directory inside the root to park the old one in).
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

// A change of credentials clears the death signal: armed again, and the
// controller checked again, as in handshake().
inline void rearm_death_signal(const ChildPlan& plan) noexcept {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail(plan, ChildStep::death_signal);
  if (!plan.namespace_init && ::getppid() != plan.controller) {
    errno = ESRCH;
    fail(plan, ChildStep::parent_gone);
  }
}

inline void set_process_bound(const ChildPlan& plan) noexcept {
  if (plan.max_processes == 0) return;
  const rlimit bound{plan.max_processes, plan.max_processes};
  if (::setrlimit(RLIMIT_NPROC, &bound) != 0) fail(plan, ChildStep::set_nproc);
}

// Raw syscalls, not glibc's setres[ug]id: glibc applies those to every thread
// of the process it believes it is (the controller, threads and all, copied
// by the clone) by signalling each one, and this child has none of them.
inline void set_ids(const ChildPlan& plan, uid_t uid, gid_t gid) noexcept {
  if (::syscall(SYS_setgroups, 0, nullptr) != 0) fail(plan, ChildStep::drop_groups);
  if (::syscall(SYS_setresgid, gid, gid, gid) != 0) fail(plan, ChildStep::set_gid);
  if (::syscall(SYS_setresuid, uid, uid, uid) != 0) fail(plan, ChildStep::set_uid);
  rearm_death_signal(plan);
}

// The child of a new user namespace starts with ids the namespace does not
// map (the host's root): the controller writes the map, then sends the root
// shifted through it (an idmapped tree, LinuxSupervisor::spawn), or nothing
// but the news for a root that is shifted already (-1). EOF: the controller
// is gone, the build never runs.
inline int receive_root(const ChildPlan& plan) noexcept {
  idmap_detail::FdMessage message;
  for (;;) {
    const ssize_t n = ::recvmsg(plan.channel, &message.header, MSG_CMSG_CLOEXEC);
    if (n > 0) break;
    if (n < 0 && errno == EINTR) continue;
    ::_exit(127);
  }
  const int tree = message.attached();
  if (plan.root_shifted) {
    if (tree >= 0) ::close(tree);
    return -1;
  }
  if (tree < 0) {
    errno = EPROTO;
    fail(plan, ChildStep::await_map);
  }
  return tree;
}

// Root of the namespace, ids 0 (the leased range's first), keeping the full
// capability set the namespace came with: power over what the namespace
// owns (its mounts, its name, its network), none in the host's. The process
// bound is set first: root of a user namespace is not the host's root, whom
// RLIMIT_NPROC exempts.
inline void become_namespace_root(const ChildPlan& plan) noexcept {
  set_process_bound(plan);
  set_ids(plan, 0, 0);
}

// Gives up root for the build's own uid, when it has one.
inline void drop_identity(const ChildPlan& plan) noexcept {
  if (plan.uid < 0) return;
  // Set while still root: it may exceed the hard limit the uid would get
  // (in a user namespace it was set on becoming its root).
  if (!plan.user_namespace) set_process_bound(plan);
  set_ids(plan, static_cast<uid_t>(plan.uid), static_cast<gid_t>(plan.gid));
}

// Out of the bounding set first, while CAP_SETPCAP is still effective: no
// execve can bring a dropped capability back after this.
inline void cut_bounding_set(const ChildPlan& plan) noexcept {
  for (int cap : plan.bounding_drops)
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) fail(plan, ChildStep::cap_bounding, cap);
}

// The sets the build starts with: the kept list for root, nothing for a
// build with a uid of its own (whose setresuid already cleared them; capset
// may only lower). Inheritable too: for root, execve would otherwise carry
// inherited bits past the bounding set. Ambient ones go as well.
inline void cut_capability_sets(const ChildPlan& plan) noexcept {
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) fail(plan, ChildStep::cap_ambient);
  CapabilitySets sets = plan.uid > 0 ? plan.no_sets : plan.kept_sets;
  if (::syscall(SYS_capset, &sets.header, sets.data) != 0) fail(plan, ChildStep::cap_sets);
}

// Soft and hard alike: lowering a limit needs no privilege, and with
// CAP_SYS_RESOURCE gone nothing inside raises it again.
inline void set_memory_bound(const ChildPlan& plan) noexcept {
  if (plan.max_data_bytes == 0) return;
  const rlimit bound{plan.max_data_bytes, plan.max_data_bytes};
  if (::setrlimit(RLIMIT_DATA, &bound) != 0) fail(plan, ChildStep::set_data_limit);
}

inline void restrict(const ChildPlan& plan) noexcept {
  if (::sethostname(sandbox_hostname, sizeof sandbox_hostname - 1) != 0) fail(plan, ChildStep::hostname);
  set_memory_bound(plan);
  if (plan.private_network) bring_up_loopback(plan);
  cut_bounding_set(plan);
  drop_identity(plan);
  if (::chdir(plan.working_dir.c_str()) != 0) fail(plan, ChildStep::working_dir);
  cut_capability_sets(plan);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(plan, ChildStep::no_new_privs);
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &plan.seccomp_program, 0, 0) != 0) fail(plan, ChildStep::seccomp);
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
  // Still with the host's root's ids in a new user namespace: the v1 leaves'
  // `tasks` take a thread of the host's root only.
  join_cgroups_v1(plan);
  if (plan.user_namespace) {
    enter_root(plan, receive_root(plan));
    become_namespace_root(plan);
  } else {
    enter_root(plan, -1);
  }
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
