#pragma once
// `snapcell build`'s request and its validation (before anything exists).

#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/run_options.hpp"
#include "snapcell/error.hpp"
#include "snapcell/names.hpp"

namespace snapcell::cli {

inline constexpr const char* default_bases_dir = "/var/lib/snapcell/bases";

struct BuildOptions {
  std::string sdist;                // the one sdist of a single build
  std::vector<std::string> sdists;  // as given on the command line (a batch when more than one)
  std::string from_list;            // a file naming more sdists, one a line
  int jobs = 1;                     // builds at once in a batch
  bool batch = false;               // several sdists, --from-list or --jobs: build_batch.hpp
  std::string base;  // a base name (see `snapcell base list`), an absolute directory, or for lvm VG/LV
  std::string backend = "overlay";
  std::string cow_size;  // lvm, classic origins: COW space per snapshot; default: from the origin
  std::string supervisor = "default";
  std::string userns = "own";  // own: an ordinary user of a user namespace of its own; host: a uid of the host's
  double timeout_seconds = 600;
  double grace_seconds = 2;
  std::string out = "wheelhouse";  // made when the build produced a wheel
  std::string wheelhouse;          // a directory of wheels for requirements the base lacks; empty: none
  bool json = false;
  std::string state_dir = "/run/snapcell";
  std::string bases_dir = default_bases_dir;
  std::string snapshot_dir;
  std::string cgroup_parent = default_cgroup_parent();
  LimitOptions limits{.max_processes = 256, .memory_mib = 2048};  // --max-processes, --memory, --disk
  std::uint64_t log_cap_mib = default_log_cap_mib;  // what of the build's log is kept
};

inline Status validate(const BuildOptions& options) {
  auto reject = [](std::string option, std::string why) { return Status{logic_error(std::move(option), "", std::move(why))}; };
  if (!options.batch && options.sdist.empty()) return reject("SDIST", "is empty");
  if (options.jobs < 1 || options.jobs > 64) return reject("--jobs", "must be between 1 and 64");
  if (options.base.empty()) return reject("--base", "is empty");
  if (options.base.front() == '/') {
    if (Status base = validate_absolute_path("--base", options.base); !base) return base;
  } else if (options.base.find('/') != std::string::npos) {
    // Not a base name (those have no '/'): the origin LV, for lvm only.
    if (options.backend != "lvm")
      return reject("--base", fmt::format("'{}' is an origin LV (VG/LV): give --backend lvm, or a base name or directory",
                                          options.base));
    if (auto name = parse_lvm_base(options.base); !name) return name.error();
  }
  if (Status sandbox = validate_sandbox_choices(options.backend, options.supervisor, options.timeout_seconds,
                                                options.grace_seconds);
      !sandbox)
    return sandbox;
  if (Status userns = validate_userns(options.userns); !userns) return userns;
  // Issue 13, item 5. Without a PID namespace a build has no /proc of its
  // own (pip, compilers and test suites read it) and its leftovers die only
  // as far as the supervisor can find them; the weak supervisors stay for
  // run and verify, whose matrices show what they miss.
  if (options.supervisor == "cgroup" || options.supervisor == "session")
    return reject("--supervisor", fmt::format("'{}' has no PID namespace, which a build needs (its own /proc, and every "
                                              "process it left ends with the namespace): use default or pidns",
                                              options.supervisor));
  if (!options.cow_size.empty()) {
    if (options.backend != "lvm") return reject("--cow-size", "is for --backend lvm");
    if (Status size = validate_lvm_size("--cow-size", options.cow_size); !size) return size;
  }
  if (options.out.empty()) return reject("--out", "is empty");
  if (!options.wheelhouse.empty())
    if (Status dir = validate_absolute_path("--wheelhouse", options.wheelhouse); !dir) return dir;
  for (unsigned char c : options.out)
    if (c < 0x20 || c == 0x7f) return reject("--out", "contains a control character");
  if (!host_cgroups()) return host_cgroups().error();
  for (const auto* dir : {&options.state_dir, &options.bases_dir, &options.cgroup_parent})
    if (Status valid = validate_absolute_path("directory option", *dir); !valid) return valid;
  if (!options.snapshot_dir.empty())
    if (Status dir = validate_absolute_path("--snapshot-dir", options.snapshot_dir); !dir) return dir;
  if (Status limits = validate_limits(options.limits, options.cow_size); !limits) return limits;
  if (Status cap = validate_log_cap(options.log_cap_mib); !cap) return cap;
  return {};
}

}  // namespace snapcell::cli
