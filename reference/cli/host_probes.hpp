#pragma once
// What a check from outside needs in place while a session runs:
//
//   SentinelProcesses  processes on `/` (cwd "/", a file of `/` open), one in
//                      its own session and one in ours: a sweep that hits
//                      them is collateral
//   HostDirectory      a directory on the host, outside any sandbox, with a
//                      sentinel file: a build that reaches it has escaped
//   LoopbackListener   a TCP listener on the host's 127.0.0.1: a build that
//                      connects to it reached the host's network
//   Witness            a process on the host that reports, from outside,
//                      a SIGURG it got (kill(-1)), being traced (ptrace),
//                      and a move to another cgroup
//   HostIpcSegment     a SysV shared memory segment on the host, with a
//                      known key: a build that removes it reached the
//                      host's IPC namespace
//   KernelLog          the host's kernel log from now on (/dev/kmsg): the
//                      sysrq lines a build made the kernel write
//   PeakSampler        a thread sampling, while the session runs, how many
//                      processes descend from us and how much space is used
//                      below the scratch dir: the peaks a cap must bound

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstring>
#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "cli/cgroups.hpp"
#include "cli/host_checks.hpp"
#include "snapcell/error.hpp"
#include "snapcell/linux/interrupt.hpp"
#include "snapcell/linux/process_table.hpp"
#include "snapcell/linux/sys.hpp"

namespace snapcell::cli::host {

class SentinelProcesses {
 public:
  SentinelProcesses() {
    const pid_t controller = ::getpid();
    for (bool own_session : {true, false}) {
      const pid_t pid = ::fork();
      if (pid < 0) throw Failure(errno_error("fork", "sentinel"));
      if (pid == 0) {
        // Dies with verify, and lives through a signal to verify's group (I9).
        if (!linux_sys::child_after_fork(controller, linux_sys::ChildMask::keep)) ::_exit(0);
        linux_sys::close_inherited_fds();  // none of verify's scratch, loops or cgroups held by a sentinel
        if (own_session) ::setsid();
        if (::chdir("/") != 0) ::_exit(1);
        const int held = ::open("/", O_RDONLY | O_DIRECTORY);  // a file of `/`, open
        (void)held;
        for (;;) ::pause();
      }
      auto pinned = linux_sys::pidfd_open(pid);
      if (!pinned) throw Failure(pinned.error());
      sentinels_.push_back(std::move(pinned).value());
    }
  }
  SentinelProcesses(const SentinelProcesses&) = delete;
  SentinelProcesses& operator=(const SentinelProcesses&) = delete;
  ~SentinelProcesses() {
    for (auto& sentinel : sentinels_) {
      (void)linux_sys::pidfd_send_signal(sentinel, SIGKILL);
      siginfo_t info{};
      (void)::waitid(P_PIDFD, static_cast<id_t>(sentinel.fd.get()), &info, WEXITED);
    }
  }

  std::set<Pid> pids() const {
    std::set<Pid> pids;
    for (const auto& sentinel : sentinels_) pids.insert(sentinel.pid);
    return pids;
  }

  // The sentinels that are gone (or stopped, or a zombie): each one is collateral.
  std::vector<std::string> harmed() const {
    std::vector<std::string> harmed;
    for (const auto& sentinel : sentinels_) {
      pollfd exited{sentinel.fd.get(), POLLIN, 0};
      if (::poll(&exited, 1, 0) != 0) {
        harmed.push_back(fmt::format("sentinel process {} on / was killed", sentinel.pid));
        continue;
      }
      auto stat = linux_sys::read_file(fmt::format("/proc/{}/stat", sentinel.pid));
      const auto close = stat ? stat->rfind(')') : std::string::npos;
      if (close != std::string::npos && close + 2 < stat->size() && ((*stat)[close + 2] == 'T' || (*stat)[close + 2] == 't'))
        harmed.push_back(fmt::format("sentinel process {} on / was stopped", sentinel.pid));
    }
    return harmed;
  }

 private:
  std::vector<linux_sys::PidFd> sentinels_;
};

// A directory on the host that no sandbox contains, holding one file whose
// content the checker knows.
class HostDirectory {
 public:
  static constexpr const char* sentinel_name = "host-sentinel";

  explicit HostDirectory(std::string path) : path_(std::move(path)) {
    if (::mkdir(path_.c_str(), 0755) != 0 && errno != EEXIST) throw Failure(errno_error("mkdir", path_));
    linux_sys::write_file(join_path(path_, sentinel_name), "host sentinel\n", O_WRONLY | O_CREAT | O_TRUNC)
        .or_throw();
  }
  const std::string& path() const { return path_; }

  // What a build did to it: files it left there (an escape) and whether the
  // sentinel changed (collateral).
  std::vector<std::string> new_entries() const {
    std::vector<std::string> found;
    for (const auto& name : names_in(path_))
      if (name != sentinel_name) found.push_back(join_path(path_, name));
    return found;
  }
  bool sentinel_changed() const {
    auto text = linux_sys::read_file(join_path(path_, sentinel_name));
    return !text || *text != "host sentinel\n";
  }
  // Back to the state the next session must find: the sentinel alone.
  void reset() {
    for (const auto& entry : new_entries()) (void)::unlink(entry.c_str());
    (void)linux_sys::write_file(join_path(path_, sentinel_name), "host sentinel\n", O_WRONLY | O_CREAT | O_TRUNC);
  }

 private:
  std::string path_;
};

// A process on the host, outside every sandbox, that watches for what only a
// build reaching outside could do to it: it blocks SIGURG and waits for it
// (kill(-1, SIGURG) from a build that shares the host's PID namespace), and
// reads its own TracerPid every few milliseconds (a build that ptraces it).
// It writes one byte per event to a pipe: 'k' a SIGURG, 't' traced. Its
// cgroup is read from outside. Only raw syscalls in the child (fork of a
// process that may have threads).
class Witness {
 public:
  Witness() {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) throw Failure(errno_error("pipe2", "witness"));
    read_end_.reset(ends[0]);
    linux_sys::UniqueFd write_end(ends[1]);
    const pid_t pid = ::fork();
    if (pid < 0) throw Failure(errno_error("fork", "witness"));
    if (pid == 0) watch(write_end.get());
    (void)::fcntl(read_end_.get(), F_SETFL, O_NONBLOCK);
    auto pinned = linux_sys::pidfd_open(pid);
    if (!pinned) throw Failure(pinned.error());
    process_ = std::move(pinned).value();
    cgroup_ = cgroup_now();
  }
  Witness(const Witness&) = delete;
  Witness& operator=(const Witness&) = delete;
  ~Witness() {
    (void)linux_sys::pidfd_send_signal(process_, SIGKILL);
    siginfo_t info{};
    (void)::waitid(P_PIDFD, static_cast<id_t>(process_.fd.get()), &info, WEXITED);
  }
  Pid pid() const { return process_.pid; }

  // What happened to it since the last call; a move to another cgroup is
  // undone (its v2 cgroup written back).
  std::vector<std::string> take_events() {
    std::vector<std::string> events;
    char bytes[256];
    bool signalled = false, traced = false;
    for (ssize_t n; (n = ::read(read_end_.get(), bytes, sizeof bytes)) > 0;)
      for (ssize_t i = 0; i < n; ++i) (bytes[i] == 'k' ? signalled : traced) = true;
    if (signalled) events.push_back(fmt::format("a SIGURG reached the host's witness process {}", pid()));
    if (traced) events.push_back(fmt::format("the host's witness process {} was traced (ptrace)", pid()));
    pollfd exited{process_.fd.get(), POLLIN, 0};
    if (::poll(&exited, 1, 0) != 0) {
      events.push_back(fmt::format("the host's witness process {} was killed", pid()));
      return events;
    }
    if (const std::string now = cgroup_now(); now != cgroup_) {
      bool back = false;
      const auto v2 = cgroup_.find("0::");
      if (v2 != std::string::npos) {
        const std::string path = cgroup_.substr(v2 + 3, cgroup_.find('\n', v2) - v2 - 3);
        if (host_cgroups())
          back = static_cast<bool>(
              linux_sys::write_file(host_cgroups()->v2_mount + path + "/cgroup.procs", std::to_string(pid())));
      }
      events.push_back(fmt::format("the host's witness process {} was moved to another cgroup{}", pid(),
                                   back ? " (moved back)" : ""));
    }
    return events;
  }

 private:
  std::string cgroup_now() const {
    auto text = linux_sys::read_file(fmt::format("/proc/{}/cgroup", pid()));
    return text ? *text : "";
  }

  [[noreturn]] static void watch(int out) {
    sigset_t urg;
    sigemptyset(&urg);
    sigaddset(&urg, SIGURG);
    (void)::sigprocmask(SIG_BLOCK, &urg, nullptr);
    const timespec tick{0, 5'000'000};
    char status[4096];
    for (;;) {
      if (::sigtimedwait(&urg, nullptr, &tick) == SIGURG) (void)!::write(out, "k", 1);
      const int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      const ssize_t n = ::read(fd, status, sizeof status - 1);
      ::close(fd);
      if (n <= 0) continue;
      status[n] = '\0';
      const char* tracer = std::strstr(status, "TracerPid:\t");
      if (tracer != nullptr && tracer[11] != '0') (void)!::write(out, "t", 1);
    }
  }

  linux_sys::UniqueFd read_end_;
  linux_sys::PidFd process_;
  std::string cgroup_;
};

// A shared memory segment of the host's IPC namespace, with a key a build
// is told: present() is false once a build removed it.
class HostIpcSegment {
 public:
  static constexpr key_t key = 0x536e6170;  // "Snap"
  HostIpcSegment() { make(); }
  HostIpcSegment(const HostIpcSegment&) = delete;
  HostIpcSegment& operator=(const HostIpcSegment&) = delete;
  ~HostIpcSegment() {
    if (id_ >= 0) (void)::shmctl(id_, IPC_RMID, nullptr);
  }
  // The segment as it was, or why not: then made again for the next session.
  std::vector<std::string> take_events() {
    std::vector<std::string> events;
    shmid_ds ds{};
    if (::shmctl(id_, IPC_STAT, &ds) != 0) {
      events.push_back(fmt::format("the host's SysV shared memory segment {} (key {:#x}) was removed", id_, key));
      make();
    }
    return events;
  }

 private:
  void make() {
    id_ = ::shmget(key, 4096, IPC_CREAT | 0600);
    if (id_ < 0) throw Failure(errno_error("shmget", fmt::format("key {:#x}", key)));
  }
  int id_ = -1;
};

// The kernel log from the moment this is made: the records written since
// the last call that mention sysrq.
class KernelLog {
 public:
  KernelLog() {
    fd_.reset(::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (fd_.valid()) (void)::lseek(fd_.get(), 0, SEEK_END);
  }
  bool readable() const { return fd_.valid(); }
  std::vector<std::string> take_sysrq_lines() {
    std::vector<std::string> lines;
    if (!fd_.valid()) return lines;
    char record[8192];
    for (;;) {
      const ssize_t n = ::read(fd_.get(), record, sizeof record - 1);
      if (n < 0 && errno == EPIPE) continue;  // records overwritten before we read them: go on
      if (n <= 0) break;
      std::string text(record, static_cast<std::size_t>(n));
      std::string lower = text;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower.find("sysrq") != std::string::npos) {
        const auto message = text.find(';');
        lines.push_back("the host's kernel log got: " + text.substr(message == std::string::npos ? 0 : message + 1, 120));
      }
    }
    return lines;
  }

 private:
  linux_sys::UniqueFd fd_;
};

class LoopbackListener {
 public:
  LoopbackListener() {
    fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd_.valid()) throw Failure(errno_error("socket", "127.0.0.1"));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;  // the kernel picks a free port
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
      throw Failure(errno_error("bind", "127.0.0.1:0"));
    if (::listen(fd_.get(), 16) != 0) throw Failure(errno_error("listen", "127.0.0.1"));
    socklen_t length = sizeof address;
    if (::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0)
      throw Failure(errno_error("getsockname", "127.0.0.1"));
    port_ = ntohs(address.sin_port);
  }
  int port() const { return port_; }

  // Connections made since the last call (completed handshakes wait in the
  // accept queue even when the client has gone since).
  int take_connections() {
    int count = 0;
    for (;;) {
      const int client = ::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) return count;
      ::close(client);
      ++count;
    }
  }

 private:
  linux_sys::UniqueFd fd_;
  int port_ = 0;
};

// Samples, every few milliseconds until stopped, the number of live processes
// below `ancestor` and the space used on the filesystems mounted at or below
// `storage` (the verify scratch: the base, the state dir, each session's
// layers) and on the filesystem holding each of `also` (a user's btrfs, where
// the snapshots go: measured from before the session, not from when its
// snapshot is first mounted below `storage`); keeps the peaks. A sampler sees
// peaks that last longer than its period: the adversaries hold theirs until
// they are killed. Read the peaks after stop().
class PeakSampler {
 public:
  PeakSampler(Pid ancestor, std::set<Pid> spared, std::string storage, std::vector<std::string> also = {})
      : ancestor_(ancestor), spared_(std::move(spared)), storage_(std::move(storage)), also_(std::move(also)) {
    flush_pending_writes();
    used_at_start_ = used_bytes();
    thread_ = std::thread([this] { run(); });
  }
  PeakSampler(const PeakSampler&) = delete;
  PeakSampler& operator=(const PeakSampler&) = delete;
  ~PeakSampler() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::size_t peak_processes() const { return peak_processes_; }
  std::uint64_t peak_storage_growth() const { return peak_used_ > used_at_start_ ? peak_used_ - used_at_start_ : 0; }

  // Bytes in use on every measured filesystem, each counted once (an overlay
  // shows its upper layer's filesystem: skipped). A filesystem on a loop
  // device whose image lives below `storage_` (verify's own btrfs) is skipped
  // too: what it stores is already counted as its image's blocks on the
  // filesystem holding the image; counting both would see every byte twice.
  std::uint64_t used_bytes() const {
    std::uint64_t used = 0;
    std::set<std::pair<unsigned, unsigned>> counted;
    for (const auto& [entry, path] : measured(read_mountinfo_settled())) {
      if (entry.fs_type == "overlay" || !counted.insert({entry.major, entry.minor}).second) continue;
      if (below_storage(loop_backing_file(entry.source))) continue;
      struct statvfs vfs {};
      if (::statvfs(path.c_str(), &vfs) != 0) continue;
      used += static_cast<std::uint64_t>(vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize;
    }
    return used;
  }

 private:
  bool below_storage(const std::string& path) const {
    return path == storage_ || path.rfind(storage_ + "/", 0) == 0;
  }

  // Each measured mount, with the path to ask statvfs: the mounts at or
  // below `storage_`, and for each of `also_` the topmost mount holding it.
  std::vector<std::pair<linux_text::MountInfoEntry, std::string>> measured(
      const std::vector<linux_text::MountInfoEntry>& mounts) const {
    std::vector<std::pair<linux_text::MountInfoEntry, std::string>> chosen;
    for (const auto& entry : mounts)
      if (below_storage(entry.mount_point)) chosen.emplace_back(entry, entry.mount_point);
    for (const auto& path : also_) {
      const linux_text::MountInfoEntry* holder = nullptr;
      for (const auto& entry : mounts)
        if (entry.mount_point == "/" || path == entry.mount_point || path.rfind(entry.mount_point + "/", 0) == 0)
          holder = &entry;
      if (holder) chosen.emplace_back(*holder, path);
    }
    return chosen;
  }

  // Writes still in the page cache (the base just built in a loop
  // filesystem reaches its image only at writeback) would otherwise land in
  // the image while the session runs and count as the session's growth.
  void flush_pending_writes() const {
    for (const auto& [entry, path] : measured(read_mountinfo_settled()))
      if (auto fd = linux_sys::open_fd(path, O_RDONLY | O_DIRECTORY)) (void)::syncfs(fd->get());
  }

  // The image behind /dev/loopN as the kernel names it, or "" for any other source.
  static std::string loop_backing_file(const std::string& source) {
    constexpr std::string_view prefix = "/dev/loop";
    if (source.rfind(prefix, 0) != 0 || source.find('/', prefix.size()) != std::string::npos) return "";
    auto text = linux_sys::read_file(fmt::format("/sys/block/{}/loop/backing_file", source.substr(5)));
    if (!text) return "";
    return text->substr(0, text->find('\n'));
  }

  void run() {
    while (!stop_) {
      peak_processes_ = std::max(peak_processes_, descendants(ancestor_, spared_).size());
      try {
        peak_used_ = std::max(peak_used_, used_bytes());
      } catch (const Failure&) {
        // an unreadable mount table: this sample is skipped, the next one counts
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  Pid ancestor_;
  std::set<Pid> spared_;
  std::string storage_;
  std::vector<std::string> also_;
  std::uint64_t used_at_start_ = 0;
  std::size_t peak_processes_ = 0;  // written by the thread, read after stop()
  std::uint64_t peak_used_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace snapcell::cli::host
