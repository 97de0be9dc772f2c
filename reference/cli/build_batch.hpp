#pragma once
// `snapcell build SDIST... [--from-list FILE] --jobs N`: many sdists, each
// built by a `snapcell build SDIST --json` child of its own (its own
// snapshot, journal record, uid lease and teardown: one build's failure or
// crash touches no other), N at a time. One progress line per finished
// build on stderr, then a closing table; with --json, JSON Lines on stdout,
// one snapcell.build/1 report per build. Exit: 0 all built, 1 some failed,
// 2 bad input (anywhere), 3 a sandbox failure anywhere.
//
// The controller waits on the children's report pipes and pidfds and on a
// signalfd: SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed on to every
// running child (each tears its own session down), no new build starts, and
// the batch exits 128+N once all of them have ended.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/build_options.hpp"
#include "cli/exit_codes.hpp"
#include "snapcell/archive_paths.hpp"
#include "snapcell/error.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/linux/sys.hpp"

namespace snapcell::cli {

inline constexpr int max_build_jobs = 64;
inline constexpr std::size_t max_batch_sdists = 100'000;

// The sdists named on the command line and in --from-list (one path a line;
// blank lines and '#' comments skipped), each checked to exist as a regular
// file with an sdist's name, before any build starts.
inline Result<std::vector<std::string>> batch_sdists(const BuildOptions& options) {
  std::vector<std::string> sdists = options.sdists;
  if (!options.from_list.empty()) {
    std::ifstream list(options.from_list);
    if (!list) return errno_error("--from-list", options.from_list);
    for (std::string line; std::getline(list, line);) {
      if (line.empty() || line.front() == '#') continue;
      sdists.push_back(line);
      if (sdists.size() > max_batch_sdists)
        return logic_error("--from-list", options.from_list, fmt::format("names more than {} sdists", max_batch_sdists));
    }
  }
  if (sdists.empty()) return logic_error("SDIST", "", "no sdist given (name some, or --from-list FILE)");
  for (const auto& sdist : sdists) {
    for (unsigned char c : sdist)
      if (c < 0x20 || c == 0x7f) return logic_error("SDIST", one_line(sdist), "contains a control character");
    const std::string file = sdist.substr(sdist.rfind('/') + 1);
    if (auto name = parse_sdist_filename(file); !name) return name.error();
    auto st = linux_sys::stat_path(sdist);
    if (!st) return st.error();
    if (!S_ISREG(st->st_mode)) return logic_error("SDIST", sdist, "is not a regular file");
  }
  return sdists;
}

// The argv of the child that builds one sdist alone, with every option of
// the batch but the batch's own.
inline std::vector<std::string> single_build_argv(const BuildOptions& options, const std::string& sdist) {
  std::vector<std::string> argv{"/proc/self/exe", "build", sdist, "--json",
                                "--base", options.base,
                                "--backend", options.backend,
                                "--supervisor", options.supervisor,
                                "--timeout", fmt::format("{}", options.timeout_seconds),
                                "--grace", fmt::format("{}", options.grace_seconds),
                                "--out", options.out,
                                "--max-processes", std::to_string(options.limits.max_processes),
                                "--memory", fmt::format("{}", options.limits.memory_mib),
                                "--state-dir", options.state_dir,
                                "--bases-dir", options.bases_dir,
                                "--cgroup-parent", options.cgroup_parent,
                                "--log-cap", std::to_string(options.log_cap_mib),
                                "--userns", options.userns};
  if (!options.snapshot_dir.empty()) argv.insert(argv.end(), {"--snapshot-dir", options.snapshot_dir});
  if (!options.wheelhouse.empty()) argv.insert(argv.end(), {"--wheelhouse", options.wheelhouse});
  if (!options.cow_size.empty()) argv.insert(argv.end(), {"--cow-size", options.cow_size});
  if (options.limits.disk_mib != 0) argv.insert(argv.end(), {"--disk", std::to_string(options.limits.disk_mib)});
  return argv;
}

namespace detail {

struct BatchChild {
  std::string sdist;
  pid_t pid = -1;
  linux_sys::UniqueFd pidfd, report;  // report: the child's stdout
  std::string stdout_text, stderr_path;
  std::chrono::steady_clock::time_point started;
};

// The child's one-line report: its own JSON, compacted; or, when it printed
// none (bad input, a crash), one made here from its exit and its stderr.
inline nlohmann::ordered_json batch_report(const BatchChild& child, int exit_code, double seconds) {
  auto json = nlohmann::ordered_json::parse(child.stdout_text, nullptr, /*allow_exceptions=*/false);
  if (json.is_object() && json.value("schema", "") == "snapcell.build/1") {
    json["seconds"] = seconds;
    return json;
  }
  std::string why;
  if (std::ifstream err(child.stderr_path); err) std::getline(err, why);
  if (why.rfind("snapcell: ", 0) == 0) why.erase(0, 10);
  nlohmann::ordered_json made;
  made["schema"] = "snapcell.build/1";
  made["outcome"] = exit_code == exit_bad_input ? "bad_input" : "sandbox_failed";
  made["exit_code"] = exit_code == exit_bad_input ? exit_bad_input : exit_sandbox_failed;
  made["sdist"] = {{"path", child.sdist}};
  made["wheels"] = nlohmann::ordered_json::array();
  made["reason"] = one_line(why.empty() ? fmt::format("the build exited with {} and no report", exit_code) : why);
  made["seconds"] = seconds;
  return made;
}

inline std::string basename_of(const std::string& path) { return path.substr(path.rfind('/') + 1); }

}  // namespace detail

inline int build_batch_command(const BuildOptions& options) {
  auto sdists = batch_sdists(options);
  if (!sdists) return print_error(exit_bad_input, sdists.error().message());
  const std::size_t total = sdists->size();

  sigset_t stops;
  sigemptyset(&stops);
  for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&stops, signal);
  sigset_t previous;
  ::sigprocmask(SIG_BLOCK, &stops, &previous);
  linux_sys::UniqueFd signals(::signalfd(-1, &stops, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signals) return print_error(exit_sandbox_failed, errno_error("signalfd", "build --jobs").message());
  char scratch_template[] = "/tmp/snapcell-batch.XXXXXX";
  if (!::mkdtemp(scratch_template)) return print_error(exit_sandbox_failed, errno_error("mkdtemp", "/tmp").message());
  const std::string scratch = scratch_template;

  std::vector<detail::BatchChild> running;
  std::vector<nlohmann::ordered_json> reports;
  std::size_t next = 0, finished = 0;
  int interrupted_by = 0;
  const auto batch_start = std::chrono::steady_clock::now();

  auto start_one = [&](const std::string& sdist) -> Status {
    detail::BatchChild child;
    child.sdist = sdist;
    child.stderr_path = fmt::format("{}/{}.stderr", scratch, next);
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return errno_error("pipe2", sdist);
    linux_sys::UniqueFd read_end(out[0]), write_end(out[1]);
    auto err = linux_sys::open_fd(child.stderr_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (!err) return err.error();
    const auto argv_text = single_build_argv(options, sdist);
    std::vector<char*> argv;
    for (const auto& arg : argv_text) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) return errno_error("fork", sdist);
    if (pid == 0) {  // async-signal-safe calls only until exec
      ::dup2(write_end.get(), STDOUT_FILENO);
      ::dup2(err->get(), STDERR_FILENO);
      ::sigprocmask(SIG_SETMASK, &previous, nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    child.pid = pid;
    child.pidfd = linux_sys::UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!child.pidfd) return errno_error("pidfd_open", sdist);  // our own unreaped child: its pid is still ours
    child.report = std::move(read_end);
    ::fcntl(child.report.get(), F_SETFL, O_NONBLOCK);
    child.started = std::chrono::steady_clock::now();
    running.push_back(std::move(child));
    return {};
  };

  auto finish_one = [&](std::size_t index) {
    detail::BatchChild& child = running[index];
    for (char buffer[8192];;) {  // what is left in the pipe after the exit
      const ssize_t n = ::read(child.report.get(), buffer, sizeof buffer);
      if (n <= 0) break;
      child.stdout_text.append(buffer, static_cast<std::size_t>(n));
    }
    int status = 0;
    (void)linux_sys::retry_eintr([&] { return ::waitpid(child.pid, &status, 0); });
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - child.started).count();
    auto report = detail::batch_report(child, code, seconds);
    ++finished;
    const auto wheels = report.value("wheels", nlohmann::ordered_json::array());
    fmt::print(stderr, "[{}/{}] {} {} (exit {}, {:.1f} s){}\n", finished, total, detail::basename_of(child.sdist),
               report.value("outcome", "?"), report.value("exit_code", code), seconds,
               report.value("reason", "").empty() ? "" : ": " + one_line(report.value("reason", "")));
    if (options.json) std::puts(report.dump().c_str()), std::fflush(stdout);
    (void)::unlink(child.stderr_path.c_str());
    reports.push_back(std::move(report));
    running.erase(running.begin() + static_cast<std::ptrdiff_t>(index));
  };

  while (next < total || !running.empty()) {
    while (!interrupted_by && next < total && running.size() < static_cast<std::size_t>(options.jobs)) {
      if (Status started = start_one((*sdists)[next]); !started) {
        fmt::print(stderr, "snapcell: {}\n", one_line(started.error().message()));
        interrupted_by = -1;  // stop starting; the running ones finish
        break;
      }
      ++next;
    }
    if (running.empty()) break;
    std::vector<pollfd> waits{{signals.get(), POLLIN, 0}};
    for (const auto& child : running) {
      waits.push_back({child.pidfd.get(), POLLIN, 0});
      waits.push_back({child.report.get(), POLLIN, 0});
    }
    if (::poll(waits.data(), waits.size(), -1) < 0 && errno != EINTR) break;
    if (waits[0].revents & POLLIN) {
      signalfd_siginfo info{};
      while (::read(signals.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        if (interrupted_by <= 0) interrupted_by = static_cast<int>(info.ssi_signo);
        for (const auto& child : running) (void)::syscall(SYS_pidfd_send_signal, child.pidfd.get(), info.ssi_signo, nullptr, 0);
      }
    }
    for (std::size_t i = running.size(); i-- > 0;) {
      const pollfd& exited = waits[1 + 2 * i];
      const pollfd& output = waits[2 + 2 * i];
      if (output.revents & POLLIN)
        for (char buffer[8192];;) {
          const ssize_t n = ::read(running[i].report.get(), buffer, sizeof buffer);
          if (n <= 0) break;
          running[i].stdout_text.append(buffer, static_cast<std::size_t>(n));
        }
      if (exited.revents & POLLIN) finish_one(i);
    }
  }
  (void)::rmdir(scratch.c_str());

  int worst = exit_ok;
  std::size_t built = 0;
  for (const auto& report : reports) {
    const int code = report.value("exit_code", exit_sandbox_failed);
    if (code == exit_ok) ++built;
    if (code == exit_sandbox_failed) worst = exit_sandbox_failed;
    else if (code == exit_bad_input && worst != exit_sandbox_failed) worst = exit_bad_input;
    else if (code == exit_build_failed && worst == exit_ok) worst = exit_build_failed;
  }
  if (!options.json) {
    fmt::print("{:<44} {:<15} {:>4} {:<52} {:>8}  {}\n", "sdist", "outcome", "exit", "wheel", "seconds", "reason");
    for (const auto& report : reports) {
      const auto wheels = report.value("wheels", nlohmann::ordered_json::array());
      const std::string wheel = wheels.empty() ? "-" : detail::basename_of(wheels[0].value("file", "-"));
      const std::string sdist =
          detail::basename_of(report.value("sdist", nlohmann::ordered_json::object()).value("path", "?"));
      fmt::print("{:<44} {:<15} {:>4} {:<52} {:>8.1f}  {}\n", sdist, report.value("outcome", "?"),
                 report.value("exit_code", -1), wheel, report.value("seconds", 0.0),
                 one_line(report.value("reason", "")));
    }
    fmt::print("{} of {} built, {} finished in {:.1f} s with --jobs {}\n", built, total, reports.size(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - batch_start).count(), options.jobs);
  }
  if (interrupted_by > 0) {
    fmt::print(stderr, "snapcell: interrupted by signal {}: {} of {} sdists were not started\n", interrupted_by,
               total - next, total);
    return 128 + interrupted_by;
  }
  if (interrupted_by < 0) return exit_sandbox_failed;
  return worst;
}

}  // namespace snapcell::cli
