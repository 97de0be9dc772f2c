#pragma once
// The benchmarks' scratch world: a private tmpfs under /tmp holding the state
// (run dir, journal, overlay layers and copies), the busybox bases, and a
// btrfs filesystem on a loop file; cgroup parents of this process's own. All
// of it is made lazily (a filtered run makes only what it uses) and removed
// at the end, newest first, whatever failed.

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base.hpp"
#include "snapcell/linux/loop_btrfs.hpp"
#include "snapcell/linux/scratch_tmpfs.hpp"
#include "snapcell/linux/supervisors.hpp"
#include "snapcell/linux/tree.hpp"

namespace snapcell::bench {

// SNAPCELL_BENCH_TINY=1: every benchmark runs one iteration on tiny bases, so
// CI proves they build and run without timing anything.
inline bool tiny() {
  const char* value = std::getenv("SNAPCELL_BENCH_TINY");
  return value && *value && std::string(value) != "0";
}

inline std::uint64_t random_nonce() {
  std::random_device device;
  return (std::uint64_t{device()} << 32) ^ device();
}


// One cgroup parent per hierarchy the CLI uses (v2, and on hybrid hosts the
// v1 pids and memory ones, where the limits go), named after this process;
// removed at the end (rmdir: only if empty, as it must be by then).
class CgroupParents {
 public:
  CgroupParents() {
    const auto& layout = linux_sys::host_cgroup_layout();
    if (!layout) throw Failure(layout.error());
    config_ = linux_sys::supervisor_config_for(*layout);
    const std::string leaf = "snapcell-bench-" + std::to_string(::getpid());
    config_.cgroup_parent = make(config_.cgroup_mount, leaf);
    if (config_.cgroup_parent.empty()) throw Failure(errno_error("mkdir", config_.cgroup_mount + "/" + leaf));
    config_.pids_v1_parent = make(config_.pids_v1_mount, leaf);
    config_.memory_v1_parent = make(config_.memory_v1_mount, leaf);
  }
  CgroupParents(const CgroupParents&) = delete;
  CgroupParents& operator=(const CgroupParents&) = delete;
  ~CgroupParents() {
    for (auto it = made_.rbegin(); it != made_.rend(); ++it) ::rmdir(it->c_str());
  }
  const linux_sys::SupervisorConfig& config() const { return config_; }

 private:
  // Empty when the hierarchy is not mounted here.
  std::string make(const std::string& mount, const std::string& leaf) {
    if (::access((mount + "/cgroup.procs").c_str(), F_OK) != 0) return {};
    const std::string path = mount + "/" + leaf;
    if (::mkdir(path.c_str(), 0755) != 0) return {};
    made_.push_back(path);
    return path;
  }

  linux_sys::SupervisorConfig config_;
  std::vector<std::string> made_;
};

// Base sizes the benchmarks use, in MiB of padding on top of busybox.
struct BaseSizes {
  unsigned small_mib;
  unsigned large_mib;
};
inline BaseSizes base_sizes() { return tiny() ? BaseSizes{1, 2} : BaseSizes{50, 500}; }

class Lab {
 public:
  Lab() : scratch_("/tmp/snapcell-bench", "snapcell-bench", "mode=0700,size=4g") {
    state_ = scratch_.path() + "/state";
    run_dir_ = state_ + "/mnt";
    journal_ = state_ + "/journal";
    volumes_ = state_ + "/volumes";
    logs_ = state_ + "/logs";
    for (const std::string& dir : {state_, journal_, volumes_, logs_, bases_dir()})
      linux_sys::check(::mkdir(dir.c_str(), 0700), "mkdir", dir).or_throw();
    // The run dir is a small tmpfs of its own, as the CLI makes it: a mount
    // point is then always on another device than any volume.
    linux_sys::check(::mkdir(run_dir_.c_str(), 0700), "mkdir", run_dir_).or_throw();
    linux_sys::check(::mount("snapcell-bench-run", run_dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=1m"),
                     "mount tmpfs", run_dir_)
        .or_throw();
    linux_sys::check(::mount(nullptr, run_dir_.c_str(), nullptr, MS_PRIVATE, nullptr), "mount MS_PRIVATE", run_dir_)
        .or_throw();
  }
  ~Lab() {
    btrfs_.reset();  // unmounts and detaches the loop device before the scratch tmpfs goes
  }

  const std::string& scratch() const { return scratch_.path(); }
  const std::string& run_dir() const { return run_dir_; }
  const std::string& journal_dir() const { return journal_; }
  const std::string& volumes_dir() const { return volumes_; }
  const std::string& logs_dir() const { return logs_; }
  const linux_sys::SupervisorConfig& supervisor_config() {
    if (!cgroups_) cgroups_ = std::make_unique<CgroupParents>();
    return cgroups_->config();
  }

  // A directory base (overlay's lower layer, copy's source) with `mib` of padding.
  const std::string& directory_base(unsigned mib) {
    auto found = directory_bases_.find(mib);
    if (found != directory_bases_.end()) return found->second;
    const std::string path = bases_dir() + "/base-" + std::to_string(mib);
    linux_sys::check(::mkdir(path.c_str(), 0755), "mkdir", path).or_throw();
    make_base(path, mib);
    return directory_bases_[mib] = path;
  }

  // A btrfs subvolume base with `mib` of padding, on the lab's loop file.
  const std::string& btrfs_base(unsigned mib) {
    auto found = btrfs_bases_.find(mib);
    if (found != btrfs_bases_.end()) return found->second;
    auto& filesystem = btrfs();
    const std::string name = "base-" + std::to_string(mib);
    const std::string path = filesystem.mount_point + "/" + name;
    auto root = linux_sys::open_directory(filesystem.mount_point, false);
    if (!root) throw Failure(root.error());
    linux_sys::btrfs::create_subvolume(root->get(), name, path).or_throw();
    make_base(path, mib);
    return btrfs_bases_[mib] = path;
  }
  const std::string& btrfs_snapshot_dir() { return btrfs().snapshots; }

  // A busybox root on a tmpfs of its own: its device is this lab's alone,
  // so a process whose root is on it is one a benchmark started (the kill
  // benchmark finds what escaped a weak supervisor by that).
  const std::string& process_root() {
    if (!process_root_.empty()) return process_root_;
    const std::string path = scratch_.path() + "/process-root";
    linux_sys::check(::mkdir(path.c_str(), 0700), "mkdir", path).or_throw();
    linux_sys::check(::mount("snapcell-bench-root", path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64m"),
                     "mount tmpfs", path)
        .or_throw();
    linux_sys::check(::mount(nullptr, path.c_str(), nullptr, MS_PRIVATE, nullptr), "mount MS_PRIVATE", path).or_throw();
    make_base(path, 0);
    return process_root_ = path;
  }

 private:
  const std::string& bases_dir() {
    if (bases_.empty()) bases_ = scratch_.path() + "/bases";
    return bases_;
  }
  linux_sys::LoopBtrfs& btrfs() {
    // Room for both bases and the snapshots' metadata: a sparse file on the tmpfs.
    if (!btrfs_) btrfs_ = std::make_unique<linux_sys::LoopBtrfs>(scratch_.path(), tiny() ? 256 : 1536);
    return *btrfs_;
  }

  linux_sys::ScratchTmpfs scratch_;  // a tmpfs of its own: nothing of a benchmark lands on `/`
  std::string state_, run_dir_, journal_, volumes_, logs_, bases_, process_root_;
  std::map<unsigned, std::string> directory_bases_, btrfs_bases_;
  std::unique_ptr<linux_sys::LoopBtrfs> btrfs_;
  std::unique_ptr<CgroupParents> cgroups_;
};

// The one lab of a run, made in main() and destroyed before it returns.
Lab& lab();

}  // namespace snapcell::bench
