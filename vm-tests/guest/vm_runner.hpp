#pragma once
// A small test runner for the guest: each case runs in a child process of
// its own (a crash or a hang in one case cannot take the others with it),
// under a deadline, and its result goes to the serial console as marker
// lines that vm-tests/run turns into one ctest result per case:
//
//   SNAPCELL-VM-CASES name...          the cases, announced first
//   SNAPCELL-VM-BEGIN name             then the case's own output
//   SNAPCELL-VM-CASE name PASS|FAIL ms
//   SNAPCELL-VM-DONE passed/total
//
// After every case the runner, in the parent, checks the world (the
// invariants I1-I4 as /proc, mountinfo and lvs show them): a case whose
// checks pass but which left something behind fails.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace snapcell::vm {

// What a case found wrong; a case passes when this stays empty.
class CaseContext {
 public:
  bool check(bool ok, const std::string& what) {
    if (!ok) {
      failures_.push_back(what);
      fmt::print("  FAILED: {}\n", what);
      std::fflush(stdout);
    }
    return ok;
  }
  void note(const std::string& line) {
    fmt::print("  {}\n", line);
    std::fflush(stdout);
  }
  bool passed() const { return failures_.empty(); }

 private:
  std::vector<std::string> failures_;
};

#define VM_CHECK(context, condition) (context).check((condition), fmt::format("{}:{}: {}", __FILE__, __LINE__, #condition))
#define VM_CHECK_MSG(context, condition, message) \
  (context).check((condition), fmt::format("{}:{}: {}: {}", __FILE__, __LINE__, #condition, (message)))

struct Case {
  int order;
  std::string name;
  std::function<void(CaseContext&)> body;
};

inline std::vector<Case>& registry() {
  static std::vector<Case> cases;
  return cases;
}

struct Register {
  Register(int order, std::string name, std::function<void(CaseContext&)> body) {
    registry().push_back({order, std::move(name), std::move(body)});
  }
};

// Runs one case in a child, killed (with its process group) at the deadline.
inline bool run_in_child(const Case& test, std::chrono::seconds deadline) {
  std::fflush(stdout);
  const pid_t child = ::fork();
  if (child < 0) return false;
  if (child == 0) {
    ::setpgid(0, 0);
    CaseContext context;
    try {
      test.body(context);
    } catch (const std::exception& error) {
      context.check(false, fmt::format("exception: {}", error.what()));
    }
    std::fflush(stdout);
    ::_exit(context.passed() ? 0 : 1);
  }
  const auto until = std::chrono::steady_clock::now() + deadline;
  int status = 0;
  for (;;) {
    const pid_t done = ::waitpid(child, &status, WNOHANG);
    if (done == child) break;
    if (std::chrono::steady_clock::now() > until) {
      fmt::print("  FAILED: the case did not finish within {} s; killed\n", deadline.count());
      ::kill(-child, SIGKILL);
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
      return false;
    }
    ::usleep(20'000);
  }
  if (WIFSIGNALED(status)) fmt::print("  FAILED: the case died of signal {}\n", WTERMSIG(status));
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// `after_each` checks the world after every case (in the parent) and may fail it.
// `only`: the names of the cases to run; empty: all.
inline int run_all(const std::function<void(CaseContext&)>& after_each, std::chrono::seconds deadline,
                   const std::vector<std::string>& only = {}) {
  auto& cases = registry();
  std::stable_sort(cases.begin(), cases.end(), [](const Case& a, const Case& b) { return a.order < b.order; });
  if (!only.empty())
    std::erase_if(cases, [&](const Case& test) { return std::find(only.begin(), only.end(), test.name) == only.end(); });
  std::string names;
  for (const auto& test : cases) names += " " + test.name;
  fmt::print("SNAPCELL-VM-CASES{}\n", names);
  int passed = 0;
  for (const auto& test : cases) {
    fmt::print("SNAPCELL-VM-BEGIN {}\n", test.name);
    const auto started = std::chrono::steady_clock::now();
    bool ok = run_in_child(test, deadline);
    CaseContext world;
    after_each(world);
    ok = ok && world.passed();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    fmt::print("SNAPCELL-VM-CASE {} {} {}\n", test.name, ok ? "PASS" : "FAIL", ms.count());
    std::fflush(stdout);
    passed += ok ? 1 : 0;
  }
  fmt::print("SNAPCELL-VM-DONE {}/{}\n", passed, cases.size());
  std::fflush(stdout);
  return passed == static_cast<int>(cases.size()) ? 0 : 1;
}

}  // namespace snapcell::vm
