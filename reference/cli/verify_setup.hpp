#pragma once
// What `snapcell verify` sets up before its sessions and takes down after
// them, whatever happens: a scratch directory with a private tmpfs (the state
// dir, the built base, the host directory), dedicated cgroup parents, and the
// busybox base with the adversaries in it.

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "cli/cgroups.hpp"
#include "cli/host_checks.hpp"
#include "snapcell/error.hpp"
#include "snapcell/linux/scratch_tmpfs.hpp"
#include "snapcell/linux/sys.hpp"
#include "snapcell/linux/tree.hpp"

namespace snapcell::cli {

// Where the adversaries sit inside a base: `snapcell verify --base DIR`
// expects them in DIR/opt/snapcell-adversaries (static programs: any base).
inline constexpr const char* adversaries_in_base = "/opt/snapcell-adversaries";

// Where the adversary programs are on the host: $SNAPCELL_ADVERSARIES_DIR,
// else beside an installed CLI (<prefix>/libexec/snapcell/adversaries), else
// in the build tree (<build>/harness/adversaries, next to <build>/reference).
inline std::string find_adversaries_dir() {
  if (const char* dir = std::getenv("SNAPCELL_ADVERSARIES_DIR"); dir != nullptr && *dir != '\0') return dir;
  std::error_code error;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return "";
  const auto bin = exe.parent_path();
  for (const auto& candidate : {bin.parent_path() / "libexec/snapcell/adversaries", bin.parent_path() / "harness/adversaries"})
    if (::access((candidate / "well_behaved").c_str(), X_OK) == 0) return candidate.string();
  return "";
}

// verify's scratch: /tmp/snapcell-verify-XXXXXX with a private tmpfs of
// `size`; whatever verify mounts goes below it, and with it at the end.
class VerifyScratch : public linux_sys::ScratchTmpfs {
 public:
  explicit VerifyScratch(std::uint64_t size_mib)
      : ScratchTmpfs("/tmp/snapcell-verify", "snapcell-verify", fmt::format("mode=0755,size={}m", size_mib)) {}
};

// The cgroup parents of verify's sessions: snapcell-verify-<pid> in the v2
// hierarchy and, where they exist, the v1 pids and memory hierarchies
// (supervisor_config makes them on first use). Ours alone: at the end
// everything below them is killed (cgroup.kill on our own v2 parent) and
// removed, and the parents with it.
class VerifyCgroups {
 public:
  VerifyCgroups() : leaf_(fmt::format("snapcell-verify-{}", ::getpid())) {}
  VerifyCgroups(const VerifyCgroups&) = delete;
  VerifyCgroups& operator=(const VerifyCgroups&) = delete;
  ~VerifyCgroups() {
    if (!host_cgroups()) return;
    if (::access((v2_parent() + "/cgroup.kill").c_str(), W_OK) == 0)
      (void)linux_sys::write_file(v2_parent() + "/cgroup.kill", "1");
    for (const auto& parent : parents()) {
      for (const auto& child : host::child_cgroups(parent)) remove_when_empty(join_path(parent, child));
      remove_when_empty(parent);
    }
  }
  // Under this host's hierarchies (cli/cgroups.hpp); verify refuses to start without a v2 one.
  std::string v2_parent() const { return host_cgroups() ? join_path(host_cgroups()->v2_mount, leaf_) : std::string(); }
  std::vector<std::string> parents() const {
    std::vector<std::string> all;
    if (!host_cgroups()) return all;
    for (const std::string& mount : {host_cgroups()->v2_mount, host_cgroups()->pids_v1_mount, host_cgroups()->memory_v1_mount})
      if (!mount.empty()) all.push_back(join_path(mount, leaf_));
    return all;
  }

 private:
  // rmdir fails with EBUSY while the kill is still being delivered.
  static void remove_when_empty(const std::string& dir) {
    for (int attempt = 0; attempt < 200; ++attempt) {
      if (::rmdir(dir.c_str()) == 0 || errno != EBUSY) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::string leaf_;
};

// A minimal base: busybox and a few applets, the directories the sandbox
// mounts on, and the adversaries in /opt/snapcell-adversaries.
inline Status make_busybox_base(const std::string& root, const std::string& adversaries) {
  namespace fs = std::filesystem;
  std::error_code error;
  for (const char* dir : {"bin", "proc", "dev", "tmp", "etc", "mnt", "opt/snapcell-adversaries"})
    if (fs::create_directories(fs::path(root) / dir, error); error)
      return Error{"mkdir", join_path(root, dir), error.value(), ""};
  if (fs::copy_file("/bin/busybox", fs::path(root) / "bin/busybox", error); error)
    return Error{"copy", "/bin/busybox", error.value(), "verify needs busybox (apt-get install busybox)"};
  for (const char* applet : {"sh", "echo", "cat", "ls", "sleep", "true"})
    if (fs::create_symlink("busybox", fs::path(root) / "bin" / applet, error); error)
      return Error{"symlink", join_path(root, std::string("bin/") + applet), error.value(), ""};
  if (Status motd = linux_sys::write_file(join_path(root, "etc/motd"), "snapcell verify base\n", O_WRONLY | O_CREAT | O_TRUNC);
      !motd)
    return motd;
  for (const auto& entry : fs::directory_iterator(adversaries, error)) {
    if (!entry.is_regular_file()) continue;
    const fs::path to = fs::path(root) / "opt/snapcell-adversaries" / entry.path().filename();
    if (fs::copy_file(entry.path(), to, error); error) return Error{"copy", entry.path().string(), error.value(), ""};
    fs::permissions(to, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                            fs::perms::others_exec);
  }
  if (error) return Error{"list", adversaries, error.value(), ""};
  return {};
}

}  // namespace snapcell::cli
