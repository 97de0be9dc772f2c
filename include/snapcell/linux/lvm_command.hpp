#pragma once
// Running the lvm tool: a fixed argument vector (fork + execvpe, never a
// shell), stdout and stderr captured, lvm's own message kept for the error.
// udev synchronisation is a choice of the caller: a host with udev wants it,
// a guest without udev (vm-tests/) must turn it off, or lvm waits for udev
// events that never come.

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/linux/interrupt.hpp"
#include "snapcell/linux/sys.hpp"

extern char** environ;

namespace snapcell::linux_sys {

struct LvmOptions {
  std::string program = "lvm";  // looked up on PATH
  std::string config;           // passed as `--config TEXT` to every command; empty: none

  // lvm without udev: device nodes made by lvm itself, no waiting for udev
  // cookies, no dmeventd monitoring, no thin_check (thin-provisioning-tools
  // is not needed for throwaway pools).
  static LvmOptions without_udev(std::string program = "lvm") {
    return LvmOptions{std::move(program),
                      "activation{udev_sync=0 udev_rules=0 verify_udev_operations=1 monitoring=0} "
                      "devices{obtain_device_list_from_udev=0 external_device_info_source=\"none\" use_devicesfile=0} "
                      "global{thin_check_executable=\"\"}"};
  }
};

struct CommandOutput {
  int exit_code = 0;  // 128 + signal when killed
  std::string out;
  std::string err;
};

// Runs argv with stdin on /dev/null and stdout/stderr captured (both read
// together with poll, so neither pipe can fill up and stall the child).
inline Result<CommandOutput> run_capturing(const std::vector<std::string>& argv,
                                           const std::vector<std::string>& extra_env = {}) {
  if (argv.empty()) return logic_error("run program", "", "empty argv");
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_storage(extra_env);
  std::vector<char*> env;
  for (auto& entry : env_storage) env.push_back(entry.data());
  for (char** entry = environ; entry && *entry; ++entry) env.push_back(*entry);
  env.push_back(nullptr);

  auto null_fd = open_fd("/dev/null", O_RDWR);
  if (!null_fd) return null_fd.error();
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return errno_error("pipe2", argv.front());
  UniqueFd out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return errno_error("pipe2", argv.front());
  UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);

  const pid_t controller = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return errno_error("fork", argv.front());
  if (pid == 0) {  // async-signal-safe calls only until exec
    if (!child_after_fork(controller)) ::_exit(127);
    ::dup2(null_fd->get(), STDIN_FILENO);
    ::dup2(out_write.get(), STDOUT_FILENO);
    ::dup2(err_write.get(), STDERR_FILENO);
    ::execvpe(args[0], args.data(), env.data());
    ::_exit(127);
  }
  out_write.reset();
  err_write.reset();

  CommandOutput output;
  pollfd fds[2] = {{out_read.get(), POLLIN, 0}, {err_read.get(), POLLIN, 0}};
  std::string* sinks[2] = {&output.out, &output.err};
  int open_count = 2;
  char buffer[4096];
  while (open_count > 0) {
    if (retry_eintr([&] { return ::poll(fds, 2, -1); }) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = retry_eintr([&] { return ::read(fds[i].fd, buffer, sizeof buffer); });
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(n));
      } else {
        fds[i].fd = -1;
        --open_count;
      }
    }
  }
  int status = 0;
  if (retry_eintr([&] { return ::waitpid(pid, &status, 0); }) < 0) return errno_error("waitpid", argv.front());
  output.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (output.exit_code == 127 && output.out.empty() && output.err.empty())
    return errno_error("execvpe", argv.front(), ENOENT);
  return output;
}

// lvm's stderr as one line: its messages joined, so that an Error's detail
// reads as lvm wrote it.
inline std::string one_line(std::string_view text) {
  std::string line;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view part = text.substr(start, end - start);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    if (!part.empty()) line += (line.empty() ? "" : "; ") + std::string(part);
    start = end + 1;
  }
  return line;
}

// The errno a caller can act on, read from lvm's message (lvm's exit codes
// say only "failed"): no space, absent, busy; anything else is EIO.
inline int errno_for_lvm_message(std::string_view message) {
  auto has = [&](std::string_view words) { return message.find(words) != std::string_view::npos; };
  if (has("insufficient free space") || has("Insufficient free space") || has("not enough free space") ||
      has("Insufficient suitable"))
    return ENOSPC;
  if (has("not found") || has("Failed to find")) return ENOENT;
  if (has("in use") || has("is open") || has("contains a filesystem in use")) return EBUSY;
  return EIO;
}

// `lvm SUBCOMMAND [--config ...] ARGS...`, run; an Error naming the
// subcommand and target, with errno from the message and lvm's message as
// the detail, when it fails.
inline Result<CommandOutput> run_lvm(const LvmOptions& options, const std::string& subcommand,
                                     const std::vector<std::string>& args, const std::string& target) {
  std::vector<std::string> argv{options.program, subcommand};
  if (!options.config.empty()) {
    argv.push_back("--config");
    argv.push_back(options.config);
  }
  argv.insert(argv.end(), args.begin(), args.end());
  // lvm warns on stderr about every inherited fd; ours are CLOEXEC, a test
  // runner's may not be.
  auto ran = run_capturing(argv, {"LVM_SUPPRESS_FD_WARNINGS=1"});
  if (!ran) return ran.error();
  if (ran->exit_code != 0) {
    std::string message = one_line(ran->err);
    if (message.empty()) message = fmt::format("exited with {}", ran->exit_code);
    return Error{fmt::format("lvm {}", subcommand), target, errno_for_lvm_message(message), message};
  }
  return ran;
}

}  // namespace snapcell::linux_sys
