#pragma once
// `snapcell verify`: runs the catalogue of escape and sabotage techniques
// (verify_catalogue.hpp) against a backend, a supervisor and a base, each in
// a fresh session, and judges each from OUTSIDE (host_checks.hpp,
// host_probes.hpp): contained, leaked (what), collateral (what), not
// applicable by design (why), or error (not run: its program is not in the
// base, or its session could not be set up).
//
// Exit: 0 when every applicable technique is contained; 1 when one leaked
// or did collateral damage; 2 bad input (an unknown --only name among it);
// 3 setup failure, or a technique that could not run (its program missing
// from the base, its session not set up): "error: not run", never a pass.

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/exit_codes.hpp"
#include "cli/host_checks.hpp"
#include "cli/host_probes.hpp"
#include "cli/interruptible.hpp"
#include "cli/policies.hpp"
#include "cli/run_command.hpp"
#include "cli/run_options.hpp"
#include "cli/state.hpp"
#include "cli/verify_catalogue.hpp"
#include "cli/verify_lvm.hpp"
#include "cli/verify_setup.hpp"
#include "snapcell/linux/loop_btrfs.hpp"
#include "snapcell/session.hpp"

namespace snapcell::cli {

inline constexpr const char* verify_schema = "snapcell.verify/1";

struct VerifyOptions {
  std::string backend = "overlay";
  std::string supervisor = "default";
  std::string userns = "own";     // own: root of a user namespace of its own, as run's default; host: the host's root
  std::string base;               // empty: a busybox base built in a scratch dir; lvm: an origin VG/LV
  std::string vg;                 // lvm without --base: the VG verify makes its own origin in
  std::string thin_pool;          // lvm without --base: make that origin thin, in this pool
  std::vector<std::string> only;  // technique names; empty: all
  bool json = false;
  bool list = false;              // print the catalogue and exit
  double timeout_seconds = 1.5;   // each technique's deadline
  double grace_seconds = 0.5;
  // Small by default, so that the bounded adversaries (which stop at twice
  // these) show whether a cap holds.
  LimitOptions limits{.max_processes = 64, .memory_mib = 256, .disk_mib = 128};
};

// Narrower than run's: fork_bomb_bounded stops at 2000 processes, and
// fills_disk and eats_memory at twice the larger of --memory and --disk.
inline constexpr LimitRanges verify_limit_ranges{.max_processes = 1000, .memory_mib = 1024, .disk_mib = 1024};

// What every verify session may use, and how far the bounded adversaries go.
struct VerifyLimits {
  Limits limits;
  std::uint64_t disk_bytes = 0;             // overlay, copy: their tmpfs; btrfs: the snapshot's qgroup; lvm: COW space
  std::uint64_t bound_mib = 0;              // how far fills_disk and eats_memory go at most
  std::uint64_t slack_bytes = 16ull << 20;  // page tables, metadata, the sampler's resolution

  explicit VerifyLimits(const LimitOptions& options)
      : limits(supervisor_limits(options)), disk_bytes(options.disk_mib << 20),
        bound_mib(std::max<std::uint64_t>(512, 2 * std::max(static_cast<std::uint64_t>(options.memory_mib), options.disk_mib))) {}

  // Verify's scratch tmpfs holds the base, the state dir and verify's own
  // btrfs image, which fills_disk may grow up to the bound.
  std::uint64_t scratch_mib() const { return std::max<std::uint64_t>(1024, bound_mib + 512); }
};

inline Status validate(const VerifyOptions& options) {
  auto reject = [](std::string option, std::string why) { return Status{logic_error(std::move(option), "", std::move(why))}; };
  if (!one_of(options.backend, backends))
    return reject("--backend", fmt::format("unknown backend '{}' (overlay, btrfs, copy or lvm)", options.backend));
  if (options.backend == "lvm") {
    if (!options.base.empty()) {
      if (auto name = parse_lvm_base(options.base); !name) return name.error();
      if (!options.vg.empty() || !options.thin_pool.empty())
        return reject("--vg", "makes an origin of verify's own: give it or --base VG/LV, not both");
    } else if (options.vg.empty()) {
      return reject("--backend", "lvm needs --vg VG (verify makes its own origin there) or --base VG/LV");
    }
    if (!options.vg.empty())
      if (Status vg = linux_sys::validate_lvm_name("--vg", options.vg); !vg) return vg;
    if (!options.thin_pool.empty())
      if (Status pool = linux_sys::validate_lvm_name("--thin-pool", options.thin_pool); !pool) return pool;
  } else {
    if (!options.vg.empty() || !options.thin_pool.empty()) return reject("--vg", "is for --backend lvm");
    if (!options.base.empty())
      if (Status base = validate_absolute_path("--base", options.base); !base) return base;
  }
  if (!one_of(options.supervisor, supervisors))
    return reject("--supervisor",
                  fmt::format("unknown supervisor '{}' (default, cgroup, pidns or session)", options.supervisor));
  if (Status userns = validate_userns(options.userns); !userns) return userns;
  for (const auto& name : options.only)
    if (!find_technique(name)) return reject("--only", fmt::format("unknown technique '{}' (see snapcell verify --list)", name));
  if (!(options.timeout_seconds > 0 && options.timeout_seconds <= 600))
    return reject("--timeout", "must be between 0 and 600 seconds");
  if (!(options.grace_seconds >= 0 && options.grace_seconds <= 60)) return reject("--grace", "must be between 0 and 60 seconds");
  if (options.limits.disk_mib == 0) return reject("--disk", "must be given a size: verify's fills_disk checks it");
  return validate(options.limits, verify_limit_ranges);
}

enum class Verdict { contained, leaked, collateral, not_applicable, error };

inline std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::contained: return "contained";
    case Verdict::leaked: return "leaked";
    case Verdict::collateral: return "collateral";
    case Verdict::not_applicable: return "n/a";
    case Verdict::error: return "error";
  }
  return "?";
}

// How an error row that tried nothing begins ("error: not run: ...").
inline constexpr std::string_view not_run = "not run:";

struct Finding {
  std::string technique;
  Verdict verdict = Verdict::contained;
  std::vector<std::string> leaks;       // what of the session got out or stayed
  std::vector<std::string> collateral;  // what outside the session was harmed
  std::vector<std::string> errors;      // the session's own errors (information)
  std::vector<std::string> notes;       // seen on the host, not laid at the session's door (a clock step)
  std::string why;                      // not applicable: why; error: what failed
  std::string session;
  double ms = 0;

  std::string what() const {
    std::string text = why;
    for (const auto* list : {&collateral, &leaks})
      for (const auto& item : *list) text += (text.empty() ? "" : "; ") + item;
    return text;
  }
};

// Everything one verify run shares across its sessions.
class Verifier {
 public:
  // `base` is the tree the checks read; for lvm, `lvm_origin` is what the
  // sessions snapshot (and `base` its read-only view).
  // `user_namespace`: the range leased for the sessions' user namespace
  // (count 0: they run as root of the host's, --userns host).
  Verifier(const VerifyOptions& options, const VerifyLimits& limits, std::string base, std::string snapshot_dir,
           const VerifyScratch& scratch, const VerifyCgroups& cgroups, IdRange user_namespace,
           const VerifyLvmOrigin* lvm_origin = nullptr)
      : options_(options), base_(std::move(base)), scratch_(scratch), cgroups_(cgroups), lvm_origin_(lvm_origin),
        limits_(limits), dirs_(join_path(scratch.path(), "state")), host_dir_(join_path(scratch.path(), "host")) {
    run_.base = lvm_origin ? lvm_origin->qualified() : base_;
    run_.backend = options.backend;
    run_.supervisor = options.supervisor;
    run_.userns = options.userns;
    run_.user_namespace = user_namespace;
    run_.state_dir = dirs_.root;
    run_.snapshot_dir = snapshot_dir;
    run_.cgroup_parent = cgroups.v2_parent();
    // The disk cap as run puts it on each backend. Also on a user's btrfs
    // --base: one without quotas then fails each snapshot saying so (an
    // error row), and its quotas stay as they are. lvm: a classic
    // snapshot's COW space is the cap (a thin one's is its pool).
    run_.limits = options.limits;
    if (lvm_origin) run_.lvm = lvm_origin->session_config(snapshot_cow_size(run_));
    prepare(dirs_).or_throw();
    base_checksum_ = host::tree_checksum(base_);
    // The copy backend's snapshot is the base's size before the build writes
    // a byte: that is the backend's cost, not what the cap bounds.
    if (options.backend == "copy") copy_bytes_ = host::tree_bytes(base_);
  }

  Finding run(const Technique& technique) {
    Finding finding;
    finding.technique = std::string(technique.name);
    if (technique.not_applicable)
      if (auto why = technique.not_applicable(options_.supervisor)) {
        finding.verdict = Verdict::not_applicable;
        finding.why = std::string(*why);
        return finding;
      }
    const std::string program = std::string(adversaries_in_base) + "/" + finding.technique;
    // A technique that could not be tried proves nothing: an error, never
    // "n/a" (that is kept for what does not apply by design), so that a run
    // which tried nothing cannot pass.
    if (::access((base_ + program).c_str(), X_OK) != 0) {
      finding.verdict = Verdict::error;
      finding.why = fmt::format("{} {} is not in the base (copy harness/adversaries there)", not_run, program);
      return finding;
    }
    std::vector<std::string> argv{program};
    for (std::string_view argument : technique.arguments) argv.push_back(fill_in(argument));

    const auto mounts_before = host::mount_table();
    const auto volumes_before = volumes_now();
    const auto cgroups_before = cgroups_now();
    const long rss_before_kib = children_peak_rss_kib();
    const host::HostState host_before = host::host_state(touched_sysctls());

    Report report;
    const auto started = std::chrono::steady_clock::now();
    std::optional<host::PeakSampler> sampler;
    // A user's btrfs holds the snapshots outside the scratch dir: measured too.
    std::vector<std::string> also;
    if (run_.backend == "btrfs") also.push_back(volumes_dir());
    sampler.emplace(::getpid(), spared(), scratch_.path(), also);
    try {
      report = run_session(argv, join_path(dirs_.logs, finding.technique + ".log"));
    } catch (const Failure& failure) {
      finding.verdict = Verdict::error;
      finding.why = failure.what();
    }
    sampler->stop();
    finding.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    finding.session = report.session;
    for (const auto& error : report.errors) finding.errors.push_back(error.message());

    check_processes(finding);
    const auto mounts_after = host::mount_table();
    for (const auto& mount : host::added(mounts_before, mounts_after, left_by(report.session)))
      finding.leaks.push_back("mount left: " + mount);
    for (const auto& mount : host::added(mounts_after, mounts_before, harmed()))
      finding.collateral.push_back("unmounted: " + mount);
    for (const auto& volume : host::added(volumes_before, volumes_now()))
      finding.leaks.push_back("volume left: " + volume);
    for (const auto& cgroup : host::added(cgroups_before, cgroups_now())) finding.leaks.push_back("cgroup left: " + cgroup);
    for (const auto& harm : sentinels_.harmed()) finding.collateral.push_back(harm);
    for (const auto& entry : host_dir_.new_entries()) finding.leaks.push_back("reached the host's tree: created " + entry);
    if (host_dir_.sentinel_changed()) finding.collateral.push_back("the host's sentinel file changed");
    host_dir_.reset();
    if (const std::string now = host::tree_checksum(base_); now != base_checksum_) {
      finding.collateral.push_back(fmt::format("the base changed (checksum {} -> {})", base_checksum_, now));
      base_checksum_ = now;  // judge the next technique on its own
    }
    if (const int connections = listener_.take_connections(); connections > 0)
      finding.leaks.push_back(fmt::format("{} connection(s) to the host's 127.0.0.1:{}", connections, listener_.port()));
    // The command's own lifetime: the snapshot before it and the teardown
    // after it are the backend's time (seconds for lvm in an emulated
    // guest), not something the build could stretch.
    const double bound_ms = (options_.timeout_seconds + options_.grace_seconds) * 1000 + 2000;
    if (const double lived_ms = report.command_ms().value_or(finding.ms); lived_ms > bound_ms)
      finding.leaks.push_back(fmt::format("outlived its deadline and grace: {:.0f} ms", lived_ms));
    check_cap(technique.cap, *sampler, rss_before_kib, finding);
    // The host's kernel state, from outside: what a root build reached is a
    // leak (it got out of its sandbox), put back at once.
    const host::HostState host_after = host::host_state(touched_sysctls());
    for (const auto& change : host::restore_host_state(host_before, host_after)) finding.leaks.push_back(change);
    if (auto step = host::clock_step(host_before, host_after)) finding.notes.push_back(*step);
    for (const auto& event : witness_.take_events()) finding.leaks.push_back(event);
    for (const auto& event : ipc_segment_.take_events()) finding.leaks.push_back(event);
    for (const auto& line : kernel_log_.take_sysrq_lines()) finding.leaks.push_back(line);
    for (const auto& claim : reached_claims(join_path(dirs_.logs, finding.technique + ".log")))
      finding.leaks.push_back("the build says it reached: " + claim);

    if (finding.verdict != Verdict::error) {
      if (!report.build) {
        finding.verdict = Verdict::error;
        finding.why = "the session did not run the command" + (finding.errors.empty() ? "" : ": " + finding.errors.front());
      } else if (report.build->exit_code == 127) {
        finding.verdict = Verdict::error;
        finding.why = fmt::format("{} did not start (exit 127)", program);
      }
    }
    if (finding.verdict != Verdict::error)
      finding.verdict = !finding.collateral.empty() ? Verdict::collateral
                        : !finding.leaks.empty()    ? Verdict::leaked
                                                    : Verdict::contained;
    return finding;
  }

 private:
  std::string fill_in(std::string_view argument) const {
    if (argument == "{port}") return std::to_string(listener_.port());
    if (argument == "{host_dir}") return host_dir_.path();
    if (argument == "{bound_mib}") return std::to_string(limits_.bound_mib);
    if (argument == "{witness_pid}") return std::to_string(witness_.pid());
    if (argument == "{ipc_key}") return std::to_string(host::HostIpcSegment::key);
    if (argument == "{root_major}" || argument == "{root_minor}") {
      struct stat root {};
      (void)::stat("/", &root);
      return std::to_string(argument == "{root_major}" ? major(root.st_dev) : minor(root.st_dev));
    }
    return std::string(argument);
  }

  Report run_session(const std::vector<std::string>& argv, const std::string& log) {
    Report report;
    with_policies(run_, dirs_, [&](auto& volumes, auto& mounter, auto& supervisor, auto& journal) {
      SessionConfig config;
      config.run_dir = dirs_.mounts;
      config.deadline = Millis{static_cast<Millis::rep>(options_.timeout_seconds * 1000)};
      config.grace = Millis{static_cast<Millis::rep>(options_.grace_seconds * 1000)};
      config.limits = limits_.limits;
      Session session(volumes, mounter, supervisor, journal, config, random_nonce);
      // What `snapcell run` gives a build by default (or with --userns host):
      // a network namespace with only loopback, the adversaries as root of
      // the session's user namespace. The builder's own uid is `snapcell
      // build`'s, tested by its own suite.
      report = run_interruptible(session, BuildRequest{snapshot_origin(run_), argv, log, sandbox_isolation(run_)},
                                 [] { return Status{}; });
      return 0;
    });
    return report;
  }

  // The checker's own processes on the host, never a session's leftovers.
  std::set<Pid> spared() const {
    auto pids = sentinels_.pids();
    pids.insert(witness_.pid());
    return pids;
  }

  // The "snapcell-probe: reached ..." lines a root technique wrote to its
  // log (harness/adversaries/probe.h): its own admission, never its proof
  // of containment.
  static std::vector<std::string> reached_claims(const std::string& log) {
    std::vector<std::string> claims;
    auto text = linux_sys::read_file(log);
    if (!text) return claims;
    constexpr std::string_view marker = "snapcell-probe: reached ";
    for (std::size_t at = text->find(marker); at != std::string::npos && claims.size() < 16; at = text->find(marker, at + 1)) {
      const std::size_t from = at + marker.size();
      claims.push_back(one_line(text->substr(from, std::min<std::size_t>(text->find('\n', from) - from, 200))));
    }
    return claims;
  }

  static bool below(const std::string& path, const std::string& dir) {
    return path == dir || path.rfind(dir + "/", 0) == 0;
  }

  // Mounts a session left: anything new below our scratch dir (state, base,
  // layers), or anywhere with the session's name or an adversary's source in
  // it. Other new mounts on this host are other processes' business.
  std::function<bool(const linux_text::MountInfoEntry&)> left_by(const std::string& session) const {
    return [this, session](const linux_text::MountInfoEntry& entry) {
      return below(entry.mount_point, scratch_.path()) || entry.source == "adversary" ||
             (!session.empty() && entry.source.find(session) != std::string::npos);
    };
  }

  // Mounts whose loss is collateral: ours below the scratch dir, and the
  // host's own system mounts. (Other processes' mounts come and go.)
  std::function<bool(const linux_text::MountInfoEntry&)> harmed() const {
    return [this](const linux_text::MountInfoEntry& entry) {
      static const std::vector<std::string> system = {"/", "/proc", "/sys", "/dev", "/run", "/tmp", "/boot", "/home", "/usr", "/var"};
      if (below(entry.mount_point, scratch_.path())) return true;
      if (entry.mount_point.rfind("/sys/", 0) == 0) return true;  // the cgroup hierarchies, securityfs, bpf, ...
      return std::find(system.begin(), system.end(), entry.mount_point) != system.end() ||
             entry.mount_point.rfind("/dev/", 0) == 0;
    };
  }

  std::string volumes_dir() const { return run_.backend == "btrfs" ? run_.snapshot_dir : dirs_.volumes; }

  // The sessions' volumes: snapshot directories, or for lvm the VG's snapcell-* LVs.
  std::set<std::string> volumes_now() const {
    if (lvm_origin_) {
      std::set<std::string> names;
      for (const auto& name : lvm_origin_->snapshots()) names.insert(qualified_name({run_.lvm->volume_group, name}));
      return names;
    }
    std::set<std::string> paths;
    for (const auto& name : host::names_in(volumes_dir())) paths.insert(join_path(volumes_dir(), name));
    return paths;
  }

  std::set<std::string> cgroups_now() const {
    std::set<std::string> all;
    for (const auto& parent : cgroups_.parents())
      for (const auto& child : host::child_cgroups(parent)) all.insert(join_path(parent, child));
    return all;
  }

  static long children_peak_rss_kib() {
    rusage usage{};
    ::getrusage(RUSAGE_CHILDREN, &usage);
    return usage.ru_maxrss;
  }

  // Every live process below us (we are a child subreaper: whatever the
  // build orphaned came to us) is one the session left. Then they go:
  // SIGKILL through pidfds, to processes that are still our descendants
  // once pinned, and we reap what came to us.
  void check_processes(Finding& finding) {
    const auto left = host::descendants(::getpid(), spared());
    if (!left.empty()) finding.leaks.push_back(fmt::format("{} process(es) left: {}", left.size(), host::describe(left)));
    for (int round = 0; round < 300; ++round) {
      auto rows = host::descendants(::getpid(), spared());
      if (rows.empty()) break;
      std::vector<linux_sys::PidFd> pinned;
      for (const auto& row : rows)
        if (auto fd = linux_sys::pidfd_open(row.pid)) pinned.push_back(std::move(fd).value());
      std::set<Pid> still;
      for (const auto& row : host::descendants(::getpid(), spared())) still.insert(row.pid);
      for (const auto& process : pinned)
        if (still.count(process.pid)) (void)linux_sys::pidfd_send_signal(process, SIGKILL);
      reap_children();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    reap_children();
  }

  // Zombies reparented to us. Only once the session is over: the
  // supervisor waits for its own children itself.
  void reap_children() {
    const auto sentinels = spared();
    for (const auto& row : host::process_rows())
      if (row.ppid == ::getpid() && (row.state == 'Z' || row.state == 'X') && !sentinels.count(row.pid))
        (void)::waitpid(row.pid, nullptr, WNOHANG);
  }

  void check_cap(CapCheck cap, const host::PeakSampler& sampler, long rss_before_kib, Finding& finding) const {
    const auto mib = [](std::uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); };
    switch (cap) {
      case CapCheck::none: return;
      case CapCheck::processes:
        if (sampler.peak_processes() > static_cast<std::size_t>(limits_.limits.max_processes))
          finding.leaks.push_back(fmt::format("peak {} processes, over the cap of {}", sampler.peak_processes(),
                                              limits_.limits.max_processes));
        return;
      case CapCheck::memory: {
        const std::uint64_t peak = static_cast<std::uint64_t>(children_peak_rss_kib()) << 10;
        const std::uint64_t before = static_cast<std::uint64_t>(rss_before_kib) << 10;
        const std::uint64_t allowed = limits_.limits.max_memory_bytes + limits_.slack_bytes;
        if (before > allowed)
          finding.leaks.push_back("peak memory not measurable: an earlier session of this run already exceeded the limit");
        else if (peak > allowed)
          finding.leaks.push_back(fmt::format("peak resident memory {:.0f} MiB, over the limit of {:.0f} MiB", mib(peak),
                                              mib(limits_.limits.max_memory_bytes)));
        return;
      }
      case CapCheck::storage:
        if (sampler.peak_storage_growth() > copy_bytes_ + limits_.disk_bytes + limits_.slack_bytes)
          finding.leaks.push_back(fmt::format("the space used below {} grew by {:.0f} MiB, over the per-session cap of {:.0f} MiB{}",
                                              scratch_.path(), mib(sampler.peak_storage_growth()), mib(limits_.disk_bytes),
                                              copy_bytes_ ? fmt::format(" beyond the {:.0f} MiB copy", mib(copy_bytes_)) : ""));
        return;
    }
  }

  const VerifyOptions& options_;
  std::string base_;
  const VerifyScratch& scratch_;
  const VerifyCgroups& cgroups_;
  const VerifyLvmOrigin* lvm_origin_;
  VerifyLimits limits_;
  RunOptions run_;
  StateDirs dirs_;
  host::SentinelProcesses sentinels_;
  host::HostDirectory host_dir_;
  host::LoopbackListener listener_;
  host::Witness witness_;
  host::HostIpcSegment ipc_segment_;
  host::KernelLog kernel_log_;
  std::string base_checksum_;
  std::uint64_t copy_bytes_ = 0;  // copy backend: what each snapshot takes before the build runs
};

inline nlohmann::ordered_json finding_to_json(const Finding& finding) {
  return {{"technique", finding.technique},
          {"verdict", std::string(to_string(finding.verdict))},
          {"leaks", finding.leaks},
          {"collateral", finding.collateral},
          {"why", finding.why},
          {"ms", finding.ms},
          {"session", finding.session},
          {"session_errors", finding.errors},
          {"notes", finding.notes}};
}

inline void print_row(const Finding& finding) {
  fmt::print("{:<22} {:<11} {:>7.0f} ms  {}\n", finding.technique, to_string(finding.verdict), finding.ms,
             one_line(finding.what()));
  for (const auto& note : finding.notes) fmt::print("{:<22} note: {}\n", "", one_line(note));
  std::fflush(stdout);
}

inline int verify_command(const VerifyOptions& options) {
  if (options.list) {
    for (const auto& technique : catalogue()) fmt::print("{:<22} {}\n", technique.name, technique.summary);
    return exit_ok;
  }
  if (::geteuid() != 0) return print_error(exit_sandbox_failed, "verify: needs root (snapshots, mounts, cgroups)");
  if (!host_cgroups()) return print_error(exit_sandbox_failed, fmt::format("verify: {}", host_cgroups().error().message()));
  std::vector<const Technique*> chosen;
  for (const auto& technique : catalogue())
    if (options.only.empty() || std::find(options.only.begin(), options.only.end(), technique.name) != options.only.end())
      chosen.push_back(&technique);

  if (options.backend == "lvm" && options.base.empty())
    if (Status vg = check_verify_volume_group(options.vg, options.thin_pool); !vg)
      return print_error(vg.code() == ENOENT || vg.code() == EINVAL ? exit_bad_input : exit_sandbox_failed, vg.error().message());
  // Orphans of a build come to us rather than to PID 1: the checks see them.
  (void)::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  const VerifyLimits limits(options.limits);
  VerifyScratch scratch(limits.scratch_mib());
  VerifyCgroups cgroups;
  std::unique_ptr<linux_sys::LoopBtrfs> btrfs;
  std::unique_ptr<VerifyLvmOrigin> lvm_origin;  // after the scratch: unmounted and removed before it goes
  std::string base = options.backend == "lvm" ? std::string() : options.base;
  std::string snapshot_dir;
  if (options.backend == "lvm" && !options.base.empty()) {
    auto viewed = VerifyLvmOrigin::view(options.base, join_path(scratch.path(), "base-view"));
    if (!viewed) return print_error(exit_bad_input, viewed.error().message());
    lvm_origin = std::move(*viewed);
    base = lvm_origin->view_dir();
  } else if (base.empty()) {
    const std::string adversaries = find_adversaries_dir();
    if (adversaries.empty())
      return print_error(exit_sandbox_failed,
                         "verify: adversary programs not found: set SNAPCELL_ADVERSARIES_DIR to harness/adversaries of a build");
    if (options.backend == "btrfs") {
      // Our own filesystem: quotas on, so each snapshot can be capped; room
      // (sparse) well past the cap, so that an uncapped fill shows plainly.
      btrfs = std::make_unique<linux_sys::LoopBtrfs>(scratch.path(), static_cast<unsigned>(limits.bound_mib),
                                                      linux_sys::LoopBtrfs::Quotas::enabled);
      base = btrfs->base;
      snapshot_dir = btrfs->snapshots;
    } else {
      base = join_path(scratch.path(), "base");
    }
    if (Status made = make_busybox_base(base, adversaries); !made) return print_error(exit_sandbox_failed, made.error().message());
    if (options.backend == "lvm") {
      auto made = VerifyLvmOrigin::make(options.vg, options.thin_pool, base, join_path(scratch.path(), "base-view"));
      if (!made) return print_error(exit_sandbox_failed, made.error().message());
      lvm_origin = std::move(*made);
      base = lvm_origin->view_dir();
    }
  } else if (options.backend == "btrfs") {
    snapshot_dir = parent_of(base);
  }

  // One range for all the sessions, which run one after the other; held
  // until verify ends, after the last session's teardown.
  auto lease = lease_user_namespace(options.userns);
  if (!lease) return print_error(exit_sandbox_failed, lease.error().message());
  const IdRange user_namespace = *lease ? (*lease)->range : IdRange{};
  Verifier verifier(options, limits, base, snapshot_dir, scratch, cgroups, user_namespace, lvm_origin.get());
  const std::string shown_base = !options.base.empty() ? options.base
                                 : lvm_origin        ? fmt::format("a busybox base in the origin LV {}", lvm_origin->qualified())
                                                     : "a busybox base built in " + scratch.path();
  SandboxLimits held;
  set_process_and_memory_holders(held, options.supervisor, options.userns == "host");
  if (!options.json) {
    fmt::print("snapcell verify: backend {}, supervisor {}, base {}\n", options.backend, options.supervisor, shown_base);
    fmt::print("  each technique as {}\n", describe_identity(user_namespace));
    fmt::print("  each technique in a fresh session: deadline {} s, grace {} s, {} processes, {} MiB memory, {} MiB disk\n",
               options.timeout_seconds, options.grace_seconds, limits.limits.max_processes,
               limits.limits.max_memory_bytes >> 20, limits.disk_bytes >> 20);
    fmt::print("  processes held by {}; memory by {}\n", held.processes_by, held.memory_by);
    fmt::print("{:<22} {:<11} {:>10}  {}\n", "technique", "verdict", "time", "what");
  }
  std::vector<Finding> findings;
  for (const Technique* technique : chosen) {
    if (interrupted()) break;  // I9: no new session; the scratch, loops and cgroups go as at the end
    findings.push_back(verifier.run(*technique));
    if (!options.json) print_row(findings.back());
  }

  std::map<Verdict, int> counts;
  for (const auto& finding : findings) ++counts[finding.verdict];
  const bool ok = counts[Verdict::leaked] == 0 && counts[Verdict::collateral] == 0 && counts[Verdict::error] == 0;
  if (options.json) {
    nlohmann::ordered_json out;
    out["schema"] = verify_schema;
    out["backend"] = options.backend;
    out["supervisor"] = options.supervisor;
    out["base"] = shown_base;
    out["user_namespace"] = user_namespace_json(user_namespace);
    out["limits"] = {{"deadline_ms", options.timeout_seconds * 1000},
                     {"grace_ms", options.grace_seconds * 1000},
                     {"max_processes", limits.limits.max_processes},
                     {"max_memory_bytes", limits.limits.max_memory_bytes},
                     {"max_disk_bytes", limits.disk_bytes},
                     {"processes_by", held.processes_by},
                     {"memory_by", held.memory_by}};
    out["techniques"] = nlohmann::ordered_json::array();
    for (const auto& finding : findings) out["techniques"].push_back(finding_to_json(finding));
    out["counts"] = {{"contained", counts[Verdict::contained]}, {"leaked", counts[Verdict::leaked]},
                     {"collateral", counts[Verdict::collateral]}, {"not_applicable", counts[Verdict::not_applicable]},
                     {"error", counts[Verdict::error]}};
    out["ok"] = ok;
    out["outcome"] = interrupted() ? "interrupted" : "completed";
    out["signal"] = interrupted() ? nlohmann::ordered_json(linux_sys::signal_name(interrupted())) : nlohmann::ordered_json();
    std::puts(out.dump(2).c_str());
  } else {
    fmt::print("{} technique(s): {} contained, {} leaked, {} collateral, {} not applicable, {} error\n", findings.size(),
               counts[Verdict::contained], counts[Verdict::leaked], counts[Verdict::collateral],
               counts[Verdict::not_applicable], counts[Verdict::error]);
    if (interrupted()) fmt::print("interrupted by {}: the rest was not run; everything verify made is removed\n",
                                  linux_sys::signal_name(interrupted()));
  }
  if (interrupted()) return interrupted_exit(interrupted());
  if (counts[Verdict::error] > 0) {
    // Name what was not tried, on stderr too: the rows may have gone to a pipe.
    std::vector<std::string> missed;
    for (const auto& finding : findings)
      if (finding.verdict == Verdict::error) missed.push_back(finding.technique);
    fmt::print(stderr, "snapcell verify: error: not run: {} of {} technique(s) ({}): see each row's reason\n",
               missed.size(), findings.size(), fmt::join(missed, ", "));
    return exit_sandbox_failed;
  }
  return ok ? exit_ok : exit_build_failed;
}

}  // namespace snapcell::cli
