// The floor: the same sequence as a turnaround, as bare syscalls with no
// journal, no proof and no supervision: mount an overlay of the base, clone
// into new PID and mount namespaces, chroot, exec /bin/true, wait, unmount,
// remove the directories. What snapcell adds on top is the rest of its cost.

#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "benchmarks.hpp"
#include "lab.hpp"

namespace snapcell::bench {

namespace {

// Returns an empty string, or the failed call.
std::string floor_once(const std::string& base, const std::string& layers, const std::string& mount_point) {
  const std::string upper = layers + "/upper", work = layers + "/work";
  if (::mkdir(layers.c_str(), 0700) != 0) return "mkdir " + layers;
  if (::mkdir(upper.c_str(), 0755) != 0 || ::mkdir(work.c_str(), 0700) != 0) return "mkdir layers";
  if (::mkdir(mount_point.c_str(), 0700) != 0) return "mkdir " + mount_point;
  const std::string options = "lowerdir=" + base + ",upperdir=" + upper + ",workdir=" + work;
  if (::mount("snapcell-floor", mount_point.c_str(), "overlay", MS_NOSUID | MS_NODEV, options.c_str()) != 0)
    return "mount overlay";

  // A raw clone behaves as fork() here (no stack given); the child only makes
  // async-signal-safe calls before exec.
  const long pid = ::syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNS | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (pid == 0) {
    if (::chroot(mount_point.c_str()) != 0 || ::chdir("/") != 0) ::_exit(126);
    char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
    char* const envp[] = {nullptr};
    ::execve(argv[0], argv, envp);
    ::_exit(127);
  }
  std::string failure;
  if (pid < 0) {
    failure = "clone";
  } else {
    int status = 0;
    if (::waitpid(static_cast<pid_t>(pid), &status, 0) != pid) failure = "waitpid";
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failure = "/bin/true failed in the chroot";
  }
  if (::umount2(mount_point.c_str(), UMOUNT_NOFOLLOW) != 0 && failure.empty()) failure = "umount2";
  if (::rmdir(mount_point.c_str()) != 0 && failure.empty()) failure = "rmdir " + mount_point;
  // The upper layer is empty (true writes nothing); overlay leaves work/work.
  const std::string work_work = work + "/work";
  (void)::rmdir(work_work.c_str());
  if ((::rmdir(upper.c_str()) != 0 || ::rmdir(work.c_str()) != 0 || ::rmdir(layers.c_str()) != 0) && failure.empty())
    failure = "rmdir layers";
  return failure;
}

void floor_benchmark(benchmark::State& state) {
  const std::string& base = lab().directory_base(base_sizes().small_mib);
  const std::string layers = lab().volumes_dir() + "/floor";
  const std::string mount_point = lab().run_dir() + "/floor";
  for (auto _ : state) {
    if (std::string failure = floor_once(base, layers, mount_point); !failure.empty()) {
      state.SkipWithError(failure.c_str());
      break;
    }
  }
}

}  // namespace

void register_floor_benchmark() {
  auto* b = benchmark::RegisterBenchmark("floor/raw-syscalls/overlay", floor_benchmark);
  b->Unit(benchmark::kMillisecond);
  if (tiny()) b->Iterations(1);
}

}  // namespace snapcell::bench
