#pragma once
// A command's output through a pipe into its log, of which at most a cap is
// kept: a build that prints without end fills neither the state dir (a
// tmpfs, that is RAM) nor the user's disk, and is not stopped for it either
// (as RLIMIT_FSIZE would, which also caps every file the build writes). The
// pipe's far end becomes the build's stdout and stderr; a thread of the
// controller copies what arrives, counts what goes past the cap, and says
// so at the log's end.
//
// The thread calls read, write and poll alone until it is told to stop, so
// it holds no lock of the C library when the supervisor clones the sandbox
// from the main thread.

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/linux/sys.hpp"
#include "snapcell/linux/tree.hpp"

namespace snapcell::cli {

class CappedLog {
 public:
  struct Written {
    std::uint64_t kept = 0;     // bytes in the log (before the note of a drop)
    std::uint64_t dropped = 0;  // bytes past the cap, read and thrown away
  };

  // The pipe alone: its far end can go into the request before the log's
  // file exists.
  static Result<std::unique_ptr<CappedLog>> open(std::uint64_t cap_bytes) {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) return errno_error("pipe2", "log");
    linux_sys::UniqueFd read_end(ends[0]), write_end(ends[1]);
    // The reader never blocks: the thread waits in poll, where a stop reaches it too.
    if (::fcntl(read_end.get(), F_SETFL, O_NONBLOCK) != 0) return errno_error("fcntl(O_NONBLOCK)", "log");
    const int stop = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop < 0) return errno_error("eventfd", "log");
    return std::unique_ptr<CappedLog>(
        new CappedLog(cap_bytes, std::move(read_end), std::move(write_end), linux_sys::UniqueFd(stop)));
  }

  // Makes the log's file and starts copying into it; before the build
  // starts, and for a file named after the session only once the journal
  // holds the session (so that reap, which removes such logs, knows of any
  // it leaves). `append`: a file the user named, added to as before; else
  // the file must not exist.
  Status attach(const std::string& path, bool append) {
    if (thread_.joinable()) return logic_error("open log", path, "a log is attached already");
    const int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (append ? O_APPEND : O_EXCL);
    auto file = linux_sys::open_fd(path, flags, 0640);
    if (!file) return errno_error("open log", path, file.code());
    path_ = path;
    file_ = std::move(*file);
    thread_ = std::thread([this] { pump(); });
    return {};
  }

  CappedLog(const CappedLog&) = delete;
  CappedLog& operator=(const CappedLog&) = delete;
  ~CappedLog() { (void)finish(); }

  // The build's stdout and stderr (the supervisor duplicates it).
  int build_end() const { return write_end_.get(); }
  std::uint64_t cap_bytes() const { return cap_; }

  // Once the build's processes are gone (after the teardown): what is still
  // in the pipe is copied, and the thread ends, even if a process that
  // escaped a weak supervisor still holds the pipe open.
  Written finish() {
    write_end_.reset();
    if (thread_.joinable()) {
      const std::uint64_t one = 1;
      (void)!::write(stop_.get(), &one, sizeof one);
      thread_.join();
      if (written_.dropped > 0) {
        const std::string note = fmt::format("\n[snapcell: {} more bytes of output dropped at the log's cap of {} bytes]\n",
                                             written_.dropped, cap_);
        (void)linux_sys::write_all(file_.get(), note, path_);
      }
    }
    return written_;
  }

 private:
  CappedLog(std::uint64_t cap, linux_sys::UniqueFd read_end, linux_sys::UniqueFd write_end, linux_sys::UniqueFd stop)
      : cap_(cap), read_end_(std::move(read_end)), write_end_(std::move(write_end)), stop_(std::move(stop)) {}

  void pump() {
    char buffer[64 * 1024];
    bool stopping = false;
    while (true) {
      const ssize_t got = ::read(read_end_.get(), buffer, sizeof buffer);
      if (got > 0) {
        keep(buffer, static_cast<std::size_t>(got));
        continue;
      }
      if (got == 0) return;  // every writer is gone
      if (errno == EINTR) continue;
      if (errno != EAGAIN || stopping) return;  // drained after the stop, or the pipe failed
      pollfd waits[2] = {{read_end_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
      if (::poll(waits, 2, -1) < 0 && errno != EINTR) return;
      if (waits[1].revents & POLLIN) stopping = true;
    }
  }

  void keep(const char* data, std::size_t size) {
    const std::uint64_t room = written_.kept < cap_ ? cap_ - written_.kept : 0;
    const std::size_t kept = size < room ? size : static_cast<std::size_t>(room);
    std::size_t done = 0;
    while (done < kept) {
      const ssize_t n = ::write(file_.get(), data + done, kept - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // a full disk: the rest counts as dropped
      done += static_cast<std::size_t>(n);
    }
    written_.kept += done;
    written_.dropped += size - done;
  }

  std::string path_;
  std::uint64_t cap_;
  linux_sys::UniqueFd file_, read_end_, write_end_, stop_;
  std::thread thread_;
  Written written_;  // the thread's until it is joined
};

}  // namespace snapcell::cli
