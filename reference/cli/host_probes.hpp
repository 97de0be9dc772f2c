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
//   PeakSampler        a thread sampling, while the session runs, how many
//                      processes descend from us and how much space is used
//                      below the scratch dir: the peaks a cap must bound

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

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
