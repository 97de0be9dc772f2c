// Host integration: DirectoryJournal on a real filesystem. The lock is the
// liveness proof reap relies on (I6): a held record cannot be adopted by
// anyone else, dies with its holder however it dies, and is never visible
// before its creator holds it.

#include "host/support.hpp"
#include "snapcell/linux/directory_journal.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

using snapcell::linux_sys::DirectoryJournal;
using snapcell::testing::exists;

namespace {

// A journal needs little room.
struct Scratch : snapcell::testing::Scratch {
  Scratch() : snapcell::testing::Scratch({.prefix = "snapcell-policies", .tmpfs = "mode=0700,size=64m"}) {}
};

ino_t inode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error("stat " + path);
  return st.st_ino;
}

// A child that waits for `go` on a pipe, then runs `body` and _exit()s with
// its result; the parent can kill it. Killed and reaped on destruction.
class Child {
 public:
  template <class Body>
  explicit Child(Body body) {
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      ::close(ready[0]);
      ::_exit(body(ready[1]));
    }
    ::close(ready[1]);
    ready_fd_ = ready[0];
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (ready_fd_ >= 0) ::close(ready_fd_);
  }

  // The byte the child wrote to say it is ready, or nothing if it died first.
  std::optional<char> wait_ready() {
    char byte = 0;
    if (::read(ready_fd_, &byte, 1) != 1) return std::nullopt;
    return byte;
  }
  void kill(int signal) { ::kill(pid_, signal); }
  int wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int ready_fd_ = -1;
};

const std::string kRecord = "hosttest-00000000000000f1";

}  // namespace

TEST_CASE("host journal: claim writes a locked 0600 record, claiming a taken name is EEXIST", "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  DirectoryJournal first(scratch / "journal");
  struct stat dir_st {};
  REQUIRE(::stat((scratch / "journal").c_str(), &dir_st) == 0);
  CHECK((dir_st.st_mode & 07777) == 0700);

  REQUIRE(first.claim(kRecord, "first\n"));
  CHECK(first.holds(kRecord));
  struct stat st {};
  REQUIRE(::stat((scratch / "journal/" + kRecord).c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(first.claim(kRecord, "again\n").code() == EEXIST);
  DirectoryJournal second(scratch / "journal");
  CHECK(second.claim(kRecord, "second\n").code() == EEXIST);
  auto content = second.read(kRecord);
  REQUIRE(content);
  CHECK(*content == "first\n");
  auto names = second.names();
  REQUIRE(names);
  CHECK(*names == std::vector<std::string>{kRecord});
  CHECK(second.read("hosttest-missing").code() == ENOENT);
}

TEST_CASE("host journal: a held record cannot be adopted, it can once released or once its holder is gone", "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  DirectoryJournal reaper(scratch / "journal");
  {
    DirectoryJournal owner(scratch / "journal");
    REQUIRE(owner.claim(kRecord, "plan\n"));
    auto adopted = reaper.try_adopt(kRecord);
    REQUIRE(adopted);
    CHECK_FALSE(*adopted);
    // Reading the record (open and close it) does not drop the owner's lock:
    // flock belongs to the open file description, not to the process.
    REQUIRE(owner.read(kRecord));
    REQUIRE(reaper.read(kRecord));
    adopted = reaper.try_adopt(kRecord);
    REQUIRE(adopted);
    CHECK_FALSE(*adopted);

    REQUIRE(owner.release(kRecord));
    CHECK_FALSE(owner.holds(kRecord));
    adopted = reaper.try_adopt(kRecord);
    REQUIRE(adopted);
    CHECK(*adopted);
    // Now the owner is the one locked out.
    adopted = owner.try_adopt(kRecord);
    REQUIRE(adopted);
    CHECK_FALSE(*adopted);
    REQUIRE(reaper.release(kRecord));
    adopted = owner.try_adopt(kRecord);
    REQUIRE(adopted);
    CHECK(*adopted);
  }  // the owner is destroyed holding it
  auto adopted = reaper.try_adopt(kRecord);
  REQUIRE(adopted);
  CHECK(*adopted);
  CHECK(reaper.try_adopt("hosttest-missing").code() == ENOENT);
}

TEST_CASE("host journal: update rewrites in place and keeps the lock, erase needs the lock", "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  DirectoryJournal owner(scratch / "journal");
  DirectoryJournal other(scratch / "journal");
  REQUIRE(owner.claim(kRecord, "a long first version of the plan\n"));
  const ino_t before = inode_of(scratch / "journal/" + kRecord);
  REQUIRE(owner.update(kRecord, "short\n"));
  CHECK(inode_of(scratch / "journal/" + kRecord) == before);
  auto content = other.read(kRecord);
  REQUIRE(content);
  CHECK(*content == "short\n");
  auto adopted = other.try_adopt(kRecord);
  REQUIRE(adopted);
  CHECK_FALSE(*adopted);

  CHECK_FALSE(other.update(kRecord, "forged\n"));
  CHECK_FALSE(other.erase(kRecord));
  CHECK(exists(scratch / "journal/" + kRecord));
  CHECK(other.erase("hosttest-missing").code() == ENOENT);
  CHECK(other.update("hosttest-missing", "x").code() == ENOENT);

  REQUIRE(owner.erase(kRecord));
  CHECK_FALSE(owner.holds(kRecord));
  CHECK_FALSE(exists(scratch / "journal/" + kRecord));
  auto names = other.names();
  REQUIRE(names);
  CHECK(names->empty());
  // The name is free again.
  REQUIRE(other.claim(kRecord, "next\n"));
  REQUIRE(other.erase(kRecord));
}

TEST_CASE("host journal: record names are validated and hidden files are not records", "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  DirectoryJournal journal(scratch / "journal");
  for (const char* bad : {"", ".hidden", "a/b", "..", "../escape"}) {
    INFO(bad);
    CHECK_FALSE(journal.claim(bad, "x"));
    CHECK_FALSE(journal.read(bad));
    CHECK_FALSE(journal.try_adopt(bad));
    CHECK_FALSE(journal.erase(bad));
  }
  std::ofstream(scratch / "journal/.tmp-leftover") << "not a record";
  auto names = journal.names();
  REQUIRE(names);
  CHECK(names->empty());
}

TEST_CASE("host journal: a directory others can write is refused", "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  REQUIRE(::mkdir((scratch / "open").c_str(), 0700) == 0);
  REQUIRE(::chmod((scratch / "open").c_str(), 0777) == 0);
  CHECK_THROWS_AS(DirectoryJournal(scratch / "open"), snapcell::Failure);
  REQUIRE(::symlink((scratch / "open").c_str(), (scratch / "link").c_str()) == 0);
  CHECK_THROWS_AS(DirectoryJournal(scratch / "link"), snapcell::Failure);
}

TEST_CASE("host journal: a controller killed with SIGKILL lets go of its record", "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  const std::string dir = scratch / "journal";
  DirectoryJournal reaper(dir);
  Child controller([&](int ready) {
    DirectoryJournal journal(dir);
    const char byte = journal.claim(kRecord, "plan of the dead\n") ? '1' : '0';
    (void)!::write(ready, &byte, 1);
    while (true) ::pause();
    return 0;
  });
  REQUIRE(controller.wait_ready() == '1');
  auto adopted = reaper.try_adopt(kRecord);
  REQUIRE(adopted);
  CHECK_FALSE(*adopted);
  controller.kill(SIGKILL);
  const int status = controller.wait();
  CHECK(WIFSIGNALED(status));
  adopted = reaper.try_adopt(kRecord);
  REQUIRE(adopted);
  CHECK(*adopted);
  auto content = reaper.read(kRecord);
  REQUIRE(content);
  CHECK(*content == "plan of the dead\n");
  REQUIRE(reaper.erase(kRecord));
}

TEST_CASE("host journal: a record is never visible before its creator holds the lock", "[host]") {
  HOST_REQUIRE_ROOT();
  Scratch scratch;
  const std::string dir = scratch / "journal";
  DirectoryJournal owner(dir);
  int stop[2];  // a socket pair: telling a reaper that already quit must not raise SIGPIPE
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, stop) == 0);
  // A reaper woken by inotify the moment a name appears tries to adopt it:
  // succeeding while the owner lives is the failure. (With O_CREAT|O_EXCL
  // and then flock, the name is there a moment before the lock.) Exit 0:
  // never adopted and saw records; 1: adopted one; 2: saw nothing; 3: error.
  Child reaper_process([&](int ready) {
    ::close(stop[1]);
    DirectoryJournal reaper(dir);
    const int watch = ::inotify_init1(IN_CLOEXEC);
    if (watch < 0 || ::inotify_add_watch(watch, dir.c_str(), IN_CREATE | IN_MOVED_TO) < 0) return 3;
    (void)!::write(ready, "1", 1);
    long seen = 0;
    alignas(struct inotify_event) char buffer[64 * 1024];
    while (true) {
      struct pollfd fds[2] = {{watch, POLLIN, 0}, {stop[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) return 3;
      if (fds[0].revents & POLLIN) {
        const ssize_t n = ::read(watch, buffer, sizeof buffer);
        if (n <= 0) return 3;
        for (ssize_t at = 0; at < n;) {
          const auto* event = reinterpret_cast<const struct inotify_event*>(buffer + at);
          at += static_cast<ssize_t>(sizeof(struct inotify_event) + event->len);
          if (event->len == 0) continue;
          auto adopted = reaper.try_adopt(event->name);
          if (!adopted) return 3;
          if (*adopted) return 1;
          ++seen;
        }
      } else if (fds[1].revents) {
        return seen > 0 ? 0 : 2;
      }
    }
  });
  ::close(stop[0]);
  REQUIRE(reaper_process.wait_ready() == '1');
  for (int i = 0; i < 2000; ++i) REQUIRE(owner.claim(fmt::format("hosttest-{:016x}", i), "plan\n"));
  (void)::send(stop[1], "x", 1, MSG_NOSIGNAL);
  ::close(stop[1]);
  const int status = reaper_process.wait();
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
