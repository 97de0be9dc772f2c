// The output log's pieces on their own (cli/capped_log.hpp,
// cli/session_log.hpp): the cap, the note of a drop, a finish that does not
// wait for a writer that never closes, and the tail a report shows.

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "cli/capped_log.hpp"
#include "cli/session_log.hpp"
#include "temp_dir.hpp"

namespace {

struct TempDir : snapcell::test::TempDir {
  TempDir() : snapcell::test::TempDir("snapcell-capped-log") {}
};

using snapcell::cli::CappedLog;
using snapcell::cli::read_log_tail;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_to(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    REQUIRE(n > 0);
    done += static_cast<std::size_t>(n);
  }
}

// A capped log attached to a new file `<dir>/out.log`, as a build's is.
std::unique_ptr<CappedLog> attached_log(const TempDir& dir, std::uint64_t cap_bytes) {
  auto log = CappedLog::open(cap_bytes);
  REQUIRE(log);
  REQUIRE((*log)->attach(dir.path + "/out.log", false));
  return std::move(*log);
}

}  // namespace

TEST_CASE("capped log: keeps what fits, counts the rest and notes the drop at the end", "[cli]") {
  TempDir dir;
  auto log = attached_log(dir, 100);
  const std::string path = dir.path + "/out.log";
  write_to(log->build_end(), std::string(70, 'a'));
  write_to(log->build_end(), std::string(70, 'b'));
  const auto written = log->finish();
  CHECK(written.kept == 100);
  CHECK(written.dropped == 40);
  CHECK(read_all(path) == std::string(70, 'a') + std::string(30, 'b') +
                              "\n[snapcell: 40 more bytes of output dropped at the log's cap of 100 bytes]\n");
}

TEST_CASE("capped log: output under the cap is copied whole, without a note", "[cli]") {
  TempDir dir;
  auto log = attached_log(dir, 1 << 20);
  const std::string path = dir.path + "/out.log";
  write_to(log->build_end(), "one\ntwo\n");
  CHECK(log->finish().dropped == 0);
  CHECK(read_all(path) == "one\ntwo\n");
}

TEST_CASE("capped log: finish returns while another process still holds the pipe open", "[cli]") {
  TempDir dir;
  auto log = attached_log(dir, 1 << 20);
  const std::string path = dir.path + "/out.log";
  // A copy of the build's end that is never closed before finish: what a
  // process that escaped a weak supervisor holds.
  const int escaped = ::fcntl(log->build_end(), F_DUPFD_CLOEXEC, 3);
  REQUIRE(escaped >= 0);
  write_to(escaped, "before\n");
  const auto written = log->finish();
  CHECK(written.kept == 7);
  CHECK(read_all(path) == "before\n");
  ::close(escaped);
}

TEST_CASE("capped log: a session's own log is made exclusively, a user's appended to", "[cli]") {
  TempDir dir;
  const std::string path = dir.path + "/out.log";
  { std::ofstream(path) << "earlier\n"; }
  auto own = CappedLog::open(1 << 20);
  REQUIRE(own);
  CHECK((*own)->attach(path, false).code() == EEXIST);
  auto users = CappedLog::open(1 << 20);
  REQUIRE(users);
  REQUIRE((*users)->attach(path, true));
  write_to((*users)->build_end(), "later\n");
  (void)(*users)->finish();
  CHECK(read_all(path) == "earlier\nlater\n");
  REQUIRE(::symlink(path.c_str(), (dir.path + "/link.log").c_str()) == 0);
  auto linked = CappedLog::open(1 << 20);
  REQUIRE(linked);
  CHECK_FALSE((*linked)->attach(dir.path + "/link.log", true));  // a link is never followed
}

TEST_CASE("capped log: never attached, it finishes with nothing written", "[cli]") {
  auto log = CappedLog::open(1 << 20);
  REQUIRE(log);
  const auto written = (*log)->finish();
  CHECK(written.kept == 0);
  CHECK(written.dropped == 0);
}

TEST_CASE("log tail: the last lines, escaped one line each, from the end of a long log", "[cli]") {
  TempDir dir;
  const std::string path = dir.path + "/out.log";
  std::string text;
  for (int i = 0; i < 30; ++i) text += fmt::format("line {}\n", i);
  text += "last \x1b[31mred\x1b[0m";
  { std::ofstream(path, std::ios::binary) << text; }
  auto tail = read_log_tail(path);
  CHECK(tail.bytes == text.size());
  CHECK_FALSE(tail.complete);
  REQUIRE(tail.lines.size() == 20);
  CHECK(tail.lines.front() == "line 11");
  CHECK(tail.lines.back() == "last \\x1b[31mred\\x1b[0m");

  // From at most the last max_bytes: a line the cut split is dropped.
  auto cut = read_log_tail(path, 20, 20);
  CHECK_FALSE(cut.complete);
  REQUIRE_FALSE(cut.lines.empty());
  CHECK(cut.lines.back() == "last \\x1b[31mred\\x1b[0m");
  CHECK(cut.lines.size() == 1);
}

TEST_CASE("log tail: a short log is complete; a missing one or a FIFO reads as empty", "[cli]") {
  TempDir dir;
  const std::string path = dir.path + "/out.log";
  { std::ofstream(path) << "one\ntwo\n"; }
  auto tail = read_log_tail(path);
  CHECK(tail.complete);
  CHECK(tail.lines == std::vector<std::string>{"one", "two"});
  CHECK(read_log_tail(dir.path + "/none.log").lines.empty());
  REQUIRE(::mkfifo((dir.path + "/fifo").c_str(), 0600) == 0);
  CHECK(read_log_tail(dir.path + "/fifo").bytes == 0);  // returns at once: opened without waiting for a writer
}
