// Unit tests of the /proc/PID/stat and /proc/PID/status parsers: samples from
// a 6.18 kernel, hand-made malformed text (one per reject path), the live
// files of this process under a hostile name, and of every process in sight.

#include "snapcell/linux/proc_stat.hpp"

#include <dirent.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "unit/text_support.hpp"
#include <fmt/format.h>

using namespace std::string_literals;
using Catch::Matchers::Contains;
using snapcell::linux_text::parse_proc_stat;
using snapcell::linux_text::parse_proc_status;
using snapcell::linux_text::ProcStat;

using snapcell::testing::detail_of;
using snapcell::testing::read_text;

namespace {

// A stat line with the given comm and fields 3 to 6, 22 as start time, and
// `fields` fields in all (52 on 6.18).
std::string stat_line(std::string_view comm, std::string_view middle = "S 2941 2941 2610",
                      int fields = 52) {
  std::string line = fmt::format("2947 ({}) {}", comm, middle);
  for (int field = 7; field <= fields; ++field) {
    line += field == 22 ? " 25312" : field == 8 ? " -1" : " 0";
  }
  return line + "\n";
}

constexpr std::string_view kStatus =
    "Name:\tcat\n"
    "Umask:\t0022\n"
    "State:\tR (running)\n"
    "Tgid:\t2948\n"
    "Ngid:\t0\n"
    "Pid:\t2948\n"
    "PPid:\t2941\n"
    "TracerPid:\t0\n"
    "Uid:\t0\t0\t0\t0\n"
    "Gid:\t0\t0\t0\t0\n"
    "FDSize:\t256\n"
    "Groups:\t \n"
    "NStgid:\t2948\n"
    "NSpid:\t2948\n"
    "NSpgid:\t2941\n"
    "NSsid:\t2610\n"
    "Kthread:\t0\n"
    "VmPeak:\t    3060 kB\n"
    "Speculation_Store_Bypass:\tvulnerable\n"
    "Cpus_allowed_list:\t0-1\n"
    "voluntary_ctxt_switches:\t0\n";

// `text` with the line of `key` replaced by `line` (removed when empty).
std::string replace_line(std::string_view text, std::string_view key, std::string_view line) {
  std::string result;
  for (const std::string_view current : snapcell::linux_text::split_lines(text)) {
    if (current.starts_with(std::string(key) + ":")) {
      if (!line.empty()) result += std::string(line) + "\n";
    } else {
      result += std::string(current) + "\n";
    }
  }
  return result;
}

std::string status_with(std::string_view key, std::string_view line) { return replace_line(kStatus, key, line); }

}  // namespace

TEST_CASE("proc stat: a kernel line", "[linux][proc]") {
  const std::string line =
      "2947 (cat) R 2941 2941 2610 0 -1 4194304 101 0 0 0 0 0 0 0 20 0 1 0 25312 3133440 364 "
      "18446744073709551615 94710268428288 94710268448169 140729088072784 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 "
      "94710268464176 94710268465792 94710709444608 140729088076417 140729088076437 140729088076437 "
      "140729088077803 0\n";
  const auto stat = parse_proc_stat(line);
  REQUIRE(stat);
  CHECK(*stat == ProcStat{2947, "cat", 'R', 2941, 2941, 2610, 25312});

  const auto kthread = parse_proc_stat(
      "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 31 0 0 18446744073709551615 0 0 0 0 0 0 0 "
      "2147483647 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
  REQUIRE(kthread);
  CHECK(*kthread == ProcStat{2, "kthreadd", 'S', 0, 0, 0, 31});
}

TEST_CASE("proc stat: the comm runs to the last ')'", "[linux][proc]") {
  const std::array<std::string, 8> comms = {
      "(a) b) c", "", "a b", ") R 1 2 3 ", "a\nb", "((", "kworker/u8:1-events_unbound", "x) S 1 1 1 1"};
  for (const auto& comm : comms) {
    CAPTURE(comm);
    const auto stat = parse_proc_stat(stat_line(comm));
    REQUIRE(stat);
    CHECK(stat->comm == comm);
    CHECK(stat->state == 'S');
    CHECK(stat->ppid == 2941);
    CHECK(stat->start_time == 25312);
  }
}

TEST_CASE("proc stat: newline, field count and state letters", "[linux][proc]") {
  const std::string line = stat_line("cat");
  CHECK(parse_proc_stat(line.substr(0, line.size() - 1)));
  CHECK(parse_proc_stat(stat_line("cat", "S 1 1 1", 22)));  // what 2.6 kernels print
  CHECK_FALSE(parse_proc_stat(stat_line("cat", "S 1 1 1", 21)));
  for (char state : std::string_view("RSDTtZXxKWPI")) {
    CAPTURE(state);
    CHECK(parse_proc_stat(stat_line("cat", fmt::format("{} 1 1 1", state))));
  }
  const auto big = parse_proc_stat(stat_line("cat", "S 2147483647 0 0"));
  REQUIRE(big);
  CHECK(big->ppid == 2147483647);
  std::string late = stat_line("cat");
  late.replace(late.find(" 25312 "), 7, " 18446744073709551615 ");
  const auto last_tick = parse_proc_stat(late);
  REQUIRE(last_tick);
  CHECK(last_tick->start_time == UINT64_MAX);
}

TEST_CASE("proc stat: every malformed line is rejected with its reason", "[linux][proc]") {
  std::string overflow_start = stat_line("cat");
  overflow_start.replace(overflow_start.find(" 25312 "), 7, " 18446744073709551616 ");
  std::string negative_start = stat_line("cat");
  negative_start.replace(negative_start.find(" 25312 "), 7, " -1 ");
  std::string word_field = stat_line("cat");
  word_field.replace(word_field.find(" 25312 "), 7, " 2x5312 ");
  struct Case {
    std::string text;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"", "no comm"},
      {"2947", "no comm"},
      {"\n", "no comm"},
      {stat_line("cat") + "\n", "field (52)"},
      {"0 (cat) S 1 1 1", "pid (1)"},
      {"-1 (cat) S 1 1 1", "pid (1)"},
      {"+1 (cat) S 1 1 1", "pid (1)"},
      {"01 (cat) S 1 1 1", "pid (1)"},
      {"2147483648 (cat) S 1 1 1", "pid (1)"},
      {"x (cat) S 1 1 1", "pid (1)"},
      {" 1 (cat) S 1 1 1", "pid (1)"},
      {"1 cat) S 1 1 1", "does not start with '('"},
      {"1  (cat) S 1 1 1", "does not start with '('"},
      {"1 ", "does not start with '('"},
      {"1 (cat S 1 1 1", "no closing"},
      {"1 )(", "does not start with '('"},
      {"1 (", "no closing"},
      {"1 (cat)", "no space after comm"},
      {"1 (cat)S 1 1 1", "no space after comm"},
      {stat_line("cat").substr(0, 40) + ")", "no space after comm"},
      {"1 (cat) S 1 1 1", "6 fields, expected at least 22"},
      {stat_line("cat", "S 1 1 1", 21), "21 fields"},
      {stat_line("cat", "Q 1 1 1"), "state (3)"},
      {stat_line("cat", "RS 1 1 1"), "state (3)"},
      {stat_line("cat", " 1 1 1"), "state (3)"},
      {stat_line("cat", "1 1 1 1"), "state (3)"},
      {stat_line("cat", "S x 1 1"), "field (4) is not a decimal"},
      {stat_line("cat", "S 1  1"), "field (5) is not a decimal"},
      {stat_line("cat", "S 1 1 1 "), "field (7) is not a decimal"},
      {word_field, "field (22) is not a decimal"},
      {stat_line("cat", "S -1 1 1"), "ppid (4)"},
      {stat_line("cat", "S 2147483648 1 1"), "ppid (4)"},
      {stat_line("cat", "S 01 1 1"), "ppid (4)"},
      {stat_line("cat", "S 1 -2 1"), "pgrp (5)"},
      {stat_line("cat", "S 1 1 99999999999"), "session (6)"},
      {overflow_start, "start time (22)"},
      {negative_start, "start time (22)"},
      {"1 (c\0t) S 1 1 1"s, "NUL"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    const auto result = parse_proc_stat(c.text);
    CHECK_THAT(detail_of(result), Contains(c.reason));
    if (!result) CHECK(result.error().operation == "parse_proc_stat");
  }
}

TEST_CASE("proc status: a kernel file", "[linux][proc]") {
  const auto status = parse_proc_status(kStatus);
  REQUIRE(status);
  CHECK(status->name == "cat");
  CHECK(status->tgid == 2948);
  CHECK(status->pid == 2948);
  CHECK(status->ppid == 2941);
  CHECK(status->ns_pids == std::vector<int>{2948});
  CHECK(status->ns_pid_innermost == 2948);
  CHECK(status->uid_real == 0);

  const auto without_newline = parse_proc_status(kStatus.substr(0, kStatus.size() - 1));
  REQUIRE(without_newline);
  CHECK(*without_newline == *status);
}

TEST_CASE("proc status: the fields that vary", "[linux][proc]") {
  SECTION("nested PID namespaces, a thread") {
    const std::string text = replace_line(status_with("Pid", "Pid:\t2950"), "NSpid", "NSpid:\t2950\t12\t1");
    const auto status = parse_proc_status(text);
    REQUIRE(status);
    CHECK(status->tgid == 2948);
    CHECK(status->pid == 2950);
    CHECK(status->ns_pids == std::vector<int>{2950, 12, 1});
    CHECK(status->ns_pid_innermost == 1);
  }
  SECTION("no NSpid line before Linux 4.1") {
    const auto status = parse_proc_status(status_with("NSpid", ""));
    REQUIRE(status);
    CHECK(status->ns_pids.empty());
    CHECK_FALSE(status->ns_pid_innermost);
  }
  SECTION("names are unescaped; tab, colon and the rest come raw") {
    const std::array<std::pair<std::string, std::string>, 6> names = {{
        {R"(a\nb\\c)", "a\nb\\c"},
        {"", ""},
        {"x:\ty) (z", "x:\ty) (z"},
        {R"(\\n)", "\\n"},
        {"memfd:sealed-91", "memfd:sealed-91"},
        {"rcu_exp_par_gp_kthread_worker/0", "rcu_exp_par_gp_kthread_worker/0"},
    }};
    for (const auto& [printed, name] : names) {
      CAPTURE(printed);
      const auto status = parse_proc_status(status_with("Name", "Name:\t" + printed));
      REQUIRE(status);
      CHECK(status->name == name);
    }
  }
  SECTION("Name is optional") {
    const auto status = parse_proc_status(status_with("Name", ""));
    REQUIRE(status);
    CHECK(status->name.empty());
  }
  SECTION("uids up to 2^32-1: snapcell's own build uids are above 2^31") {
    const auto status = parse_proc_status(status_with("Uid", "Uid:\t3100000000\t4294967294\t65534\t1000"));
    REQUIRE(status);
    CHECK(status->uid_real == 3100000000u);
  }
  SECTION("unknown keys of any content") {
    const auto status = parse_proc_status(std::string(kStatus) + "x86_Thread_features:\t\nNew_key:\t a:b \\q\n");
    REQUIRE(status);
  }
}

TEST_CASE("proc status: every malformed file is rejected with its reason", "[linux][proc]") {
  struct Case {
    std::string text;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"", "no Tgid line"},
      {"\n", "not a \"Key:\" line"},
      {status_with("Tgid", ""), "no Tgid line"},
      {status_with("Pid", ""), "no Pid line"},
      {status_with("PPid", ""), "no PPid line"},
      {status_with("Uid", ""), "no Uid line"},
      {std::string(kStatus) + "Pid:\t2948\n", "Pid given twice"},
      {"Name:\ta\n" + std::string(kStatus), "Name given twice"},
      {std::string(kStatus) + "\n", "not a \"Key:\" line"},
      {status_with("Umask", "garbage"), "not a \"Key:\" line"},
      {status_with("Umask", "Um ask:\t0022"), "not a \"Key:\" line"},
      {status_with("Umask", ":\t0022"), "not a \"Key:\" line"},
      {status_with("Umask", "Umask:\t00\0"s), "NUL"},
      {status_with("Pid", "Pid: 2948"), "Pid: no tab"},
      {status_with("Pid", "Pid:"), "Pid: no tab"},
      {status_with("Name", "Name: cat"), "Name: no tab"},
      {status_with("Pid", "Pid:\t0"), "Pid: not a positive"},
      {status_with("Pid", "Pid:\t-1"), "Pid: not a positive"},
      {status_with("Pid", "Pid:\t2948 "), "Pid: not a positive"},
      {status_with("Pid", "Pid:\t\t2948"), "Pid: not a positive"},
      {status_with("Tgid", "Tgid:\t2147483648"), "Tgid: not a positive"},
      {status_with("Tgid", "Tgid:\tx"), "Tgid: not a positive"},
      {status_with("PPid", "PPid:\t-1"), "PPid: not a non-negative"},
      {status_with("PPid", "PPid:\t"), "PPid: not a non-negative"},
      {status_with("NSpid", "NSpid:\t"), "NSpid: not a tab-separated"},
      {status_with("NSpid", "NSpid:\t2948\t"), "NSpid: not a tab-separated"},
      {status_with("NSpid", "NSpid:\t2948\t\t1"), "NSpid: not a tab-separated"},
      {status_with("NSpid", "NSpid:\t2948 1"), "NSpid: not a tab-separated"},
      {status_with("NSpid", "NSpid:\t2948\t0"), "NSpid: not a tab-separated"},
      {status_with("NSpid", "NSpid:\t1\t2948"), "NSpid does not start with Pid"},
      {status_with("Uid", "Uid:\t0\t0\t0"), "Uid: 3 values"},
      {status_with("Uid", "Uid:\t0\t0\t0\t0\t0"), "Uid: 5 values"},
      {status_with("Uid", "Uid:\t0 0 0 0"), "Uid: 1 values"},
      {status_with("Uid", "Uid:\t0\t0\t0\tx"), "Uid: not an unsigned"},
      {status_with("Uid", "Uid:\t0\t-1\t0\t0"), "Uid: not an unsigned"},
      {status_with("Uid", "Uid:\t0\t0\t4294967296\t0"), "Uid: not an unsigned"},
      {status_with("Name", "Name:\ta\\tb"), "Name: backslash"},
      {status_with("Name", "Name:\ta\\"), "Name: backslash"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    const auto result = parse_proc_status(c.text);
    CHECK_THAT(detail_of(result), Contains(c.reason));
    if (!result) CHECK(result.error().operation == "parse_proc_status");
  }
}

TEST_CASE("proc stat and status: the live files of this thread, under a hostile name", "[linux][proc][live]") {
  char saved[17] = {};
  REQUIRE(::prctl(PR_GET_NAME, saved) == 0);
  // 15 bytes, the most a comm holds: ')' '(' spaces, a newline, a backslash
  // and a tab, everything that trips a naive parser of either file.
  const std::string hostile = "a) b\n(c) \\:\t) Z";
  REQUIRE(hostile.size() == 15);
  REQUIRE(::prctl(PR_SET_NAME, hostile.c_str()) == 0);
  const std::string stat_text = read_text("/proc/thread-self/stat");
  const std::string status_text = read_text("/proc/thread-self/status");
  REQUIRE(::prctl(PR_SET_NAME, saved) == 0);

  const auto stat = parse_proc_stat(stat_text);
  REQUIRE(stat);
  CHECK(stat->comm == hostile);
  CHECK(stat->pid == ::gettid());
  CHECK(stat->ppid == ::getppid());
  CHECK(stat->pgrp == ::getpgrp());
  CHECK(stat->session == ::getsid(0));
  CHECK(stat->state == 'R');
  CHECK(stat->start_time > 0);

  CHECK_THAT(status_text, Contains("Name:\ta) b\\n(c) \\\\:\t) Z\n"));
  const auto status = parse_proc_status(status_text);
  REQUIRE(status);
  CHECK(status->name == hostile);
  CHECK(status->pid == ::gettid());
  CHECK(status->tgid == ::getpid());
  CHECK(status->ppid == ::getppid());
  CHECK(status->uid_real == ::getuid());
  REQUIRE_FALSE(status->ns_pids.empty());
  CHECK(status->ns_pids.front() == ::gettid());
}

TEST_CASE("proc stat and status: the live files of every process parse", "[linux][proc][live]") {
  const auto self = parse_proc_stat(read_text("/proc/self/stat"));
  REQUIRE(self);
  CHECK(self->pid == ::getpid());
  std::string comm = read_text("/proc/self/comm");
  REQUIRE_FALSE(comm.empty());
  comm.pop_back();
  CHECK(self->comm == comm);
  REQUIRE(parse_proc_status(read_text("/proc/self/status")));

  DIR* proc = ::opendir("/proc");
  REQUIRE(proc != nullptr);
  int parsed = 0;
  while (const dirent* entry = ::readdir(proc)) {
    const auto pid = snapcell::linux_text::parse_pid(entry->d_name);
    if (!pid) continue;
    // A process may exit between readdir and read: empty text is skipped.
    const std::string stat_text = read_text(fmt::format("/proc/{}/stat", *pid));
    const std::string status_text = read_text(fmt::format("/proc/{}/status", *pid));
    if (stat_text.empty() || status_text.empty()) continue;
    CAPTURE(stat_text, status_text);
    const auto stat = parse_proc_stat(stat_text);
    const auto status = parse_proc_status(status_text);
    CHECK(stat);
    CHECK(status);
    if (stat && status) {
      CHECK(stat->pid == *pid);
      CHECK(status->tgid == *pid);
      ++parsed;
    }
  }
  ::closedir(proc);
  CHECK(parsed > 1);
}

TEST_CASE("proc stat and status: random and mutated text never crashes, and each refusal names its reason",
          "[linux][proc]") {
  std::mt19937 random(11);
  // Each parse either accepts or refuses naming its parser and a reason; the
  // mutations must reach both sides, or the loop tested one path only.
  int accepted = 0, refused = 0;
  const auto judge = [&](const auto& result, std::string_view parser, const std::string& text) {
    if (result) {
      ++accepted;
      return;
    }
    ++refused;
    if (result.error().operation != parser || result.error().detail.empty()) {
      CAPTURE(text, result.error().message());
      CHECK(result.error().operation == parser);
      CHECK_FALSE(result.error().detail.empty());
    }
  };
  const std::string_view alphabet = "0123456789 ()-\\:\tnNSPpiduUgTR\n";
  const std::array<std::string, 2> seeds = {stat_line("a) b"), std::string(kStatus)};
  for (int round = 0; round < 20000; ++round) {
    std::string text = seeds[random() % seeds.size()];
    for (int edits = 1 + static_cast<int>(random() % 3); edits > 0; --edits) {
      const std::size_t at = random() % (text.size() + 1);
      const char c = alphabet[random() % alphabet.size()];
      switch (random() % 3) {
        case 0: text.insert(at, 1, c); break;
        case 1: if (at < text.size()) text.erase(at, 1); break;
        default: if (at < text.size()) text[at] = c; break;
      }
    }
    judge(parse_proc_stat(text), "parse_proc_stat", text);
    judge(parse_proc_status(text), "parse_proc_status", text);
  }
  CHECK(accepted > 0);
  CHECK(refused > 0);
  const int accepted_mutations = accepted;
  for (int round = 0; round < 2000; ++round) {
    std::string noise(random() % 300, '\0');
    for (auto& c : noise) c = static_cast<char>(random() % 256);
    judge(parse_proc_stat(noise), "parse_proc_stat", noise);
    judge(parse_proc_status(noise), "parse_proc_status", noise);
  }
  CHECK(accepted == accepted_mutations);  // random bytes are never a stat line or a status file
}
