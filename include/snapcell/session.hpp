#pragma once
// One throwaway sandbox: claim a unique name, snapshot, mount, prove, spawn,
// wait, tear down. The steps can be driven one at a time (the stateful tests
// interleave several sessions that way) or all at once with run().

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/journal.hpp"
#include "snapcell/names.hpp"
#include "snapcell/ownership.hpp"
#include "snapcell/policies.hpp"
#include "snapcell/report.hpp"
#include "snapcell/unwind.hpp"

namespace snapcell {

struct SessionConfig {
  std::string prefix = "snapcell";
  std::string run_dir;         // mount points are made here, one per session
  Millis deadline{60'000};
  Millis grace{2'000};
  Limits limits;
  int name_attempts = 8;
  // Off only to measure what the proofs cost (bench/ shows turnaround with and
  // without them): no run dir check, no ownership proof after mounting, and a
  // teardown that acts without re-proving its targets or listing survivors.
  // Nothing a user can reach turns it off: without the proofs, I1-I3 rest on
  // the session's own account of itself, which is what the field failures were.
  bool verify = true;
};

struct BuildRequest {
  std::string origin;
  std::vector<std::string> argv;
  std::string log_path;  // where the command's stdout and stderr go; empty: nowhere
  Isolation isolation;   // uid, network, working directory (policies.hpp)
  int log_fd = -1;       // instead of log_path: a descriptor of the caller's (a capped pipe), borrowed
};

inline Status validate_config(const SessionConfig& config) {
  if (Status prefix = validate_prefix(config.prefix); !prefix) return prefix;
  if (Status run_dir = validate_absolute_path("run dir", config.run_dir); !run_dir) return run_dir;
  if (config.deadline <= Millis{0}) return logic_error("validate deadline", "", "must be positive");
  if (config.grace < Millis{0}) return logic_error("validate grace", "", "must not be negative");
  if (config.name_attempts < 1) return logic_error("validate name attempts", "", "must be at least 1");
  return {};
}

inline Status validate_request(const BuildRequest& request) {
  if (request.origin.empty()) return logic_error("validate origin", "", "is empty");
  if (request.origin.size() > 4095) return logic_error("validate origin", "", "is longer than PATH_MAX");
  for (unsigned char c : request.origin)
    if (c < 0x20 || c == 0x7f) return logic_error("validate origin", request.origin, "contains a control character");
  if (request.argv.empty()) return logic_error("validate command", "", "is empty");
  if (request.argv.front().empty()) return logic_error("validate command", "", "program name is empty");
  for (const auto& arg : request.argv)
    if (arg.find('\0') != std::string::npos) return logic_error("validate command", arg, "contains a NUL byte");
  return {};
}

// `failed`: a step after the claim failed; only teardown may follow, so a
// retried step can never acquire a second unit or volume over the first.
// `stopped`: every process of the build is gone, proven, and the snapshot is
// still mounted: the one moment its outputs can be read without a build
// process changing them underneath (the builder copies its wheels out here).
enum class Phase { idle, claimed, ready, running, finished, stopped, failed, torn_down };

template <VolumeManager V, Mounter M, Supervisor S, JournalStore J>
class Session {
 public:
  using NonceSource = std::function<std::uint64_t()>;

  Session(V& volumes, M& mounter, S& supervisor, J& journal, SessionConfig config, NonceSource nonce)
      : volumes_(volumes), mounter_(mounter), supervisor_(supervisor), journal_(journal),
        config_(std::move(config)), nonce_(std::move(nonce)) {}

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // A session that was begun is torn down, whatever happened in between.
  ~Session() {
    if (phase_ != Phase::idle && phase_ != Phase::torn_down) (void)teardown();
  }

  // Validates, then claims a unique name by creating its journal record
  // exclusively: the claim, not the nonce, is what makes the name unique.
  Status begin(BuildRequest request) {
    if (phase_ != Phase::idle) return out_of_order("begin");
    auto timer = phase_timer("validate");
    if (Status valid = validate_config(config_); !valid) return fail(valid);
    if (Status valid = validate_request(request); !valid) return fail(valid);
    request_ = std::move(request);
    timer.stop();

    auto claim_timer = phase_timer("claim");
    for (int attempt = 0; attempt < config_.name_attempts; ++attempt) {
      SessionPlan plan = plan_for(session_name(config_.prefix, nonce_()), request_.origin, config_.run_dir,
                                  std::string(V::kind), std::string(S::kind));
      Status claimed = journal_.claim(plan.name, serialize_plan(plan));
      if (claimed) {
        plan_ = std::move(plan);
        report_.session = plan_.name;
        phase_ = Phase::claimed;
        return {};
      }
      if (claimed.code() != EEXIST) return fail(claimed);
    }
    return fail(logic_error("claim name", config_.prefix,
                            fmt::format("{} candidate names were all taken", config_.name_attempts)));
  }

  // Mount point, snapshot, mount, proof: the classic order, in which a failed
  // snapshot leaves a bare directory where the mount should be, exactly what
  // the guards must tell apart. Nothing runs in a mount not proven our own.
  Status setup() {
    if (phase_ != Phase::claimed) return out_of_order("setup");
    auto mkdir_timer = phase_timer("mkdir");
    if (config_.verify)
      if (Status run_dir = check_run_dir(); !run_dir) return abort_with(run_dir);
    if (Status made = mounter_.make_dir(plan_.mount_point); !made) return abort_with(made);
    mkdir_timer.stop();

    auto snapshot_timer = phase_timer("snapshot");
    auto spec = volumes_.snapshot(plan_.origin, plan_.volume);
    if (!spec) return abort_with(spec.status());
    plan_.mount_source = mount_identity(spec->source, spec->root);
    root_shows_shifted_ids_ = spec->shows_shifted_ids;
    if (Status journaled = journal_.update(plan_.name, serialize_plan(plan_)); !journaled) return abort_with(journaled);
    snapshot_timer.stop();

    auto mount_timer = phase_timer("mount");
    if (Status mounted = mounter_.mount(*spec, plan_.mount_point); !mounted) return abort_with(mounted);
    mount_timer.stop();

    if (!config_.verify) {
      phase_ = Phase::ready;
      return {};
    }
    auto prove_timer = phase_timer("prove");
    auto facts = mounter_.facts(plan_.mount_point);
    if (!facts) return abort_with(facts.status());
    if (auto proof = decide_ownership(plan_.mount_point, *facts, plan_.mount_source); !proof) return abort_with(proof.status());
    phase_ = Phase::ready;
    return {};
  }

  // The unit is journaled before the spawn (so reap can find a half-made
  // one) and again after it, with the identity the spawn recorded.
  Status start() {
    if (phase_ != Phase::ready) return out_of_order("start");
    auto timer = phase_timer("spawn");
    unit_ = supervisor_.unit_for(plan_.name);
    plan_.unit = unit_->serialize();
    if (Status journaled = journal_.update(plan_.name, serialize_plan(plan_)); !journaled) return abort_with(journaled);
    Isolation isolation = request_.isolation;
    isolation.root_shifted = root_shows_shifted_ids_;
    if (Status spawned = supervisor_.spawn(*unit_, SpawnSpec{plan_.mount_point, request_.argv, config_.limits,
                                                             request_.log_path, isolation, request_.log_fd});
        !spawned)
      return abort_with(spawned);
    plan_.unit = unit_->serialize();
    if (Status journaled = journal_.update(plan_.name, serialize_plan(plan_)); !journaled) return abort_with(journaled);
    if (Status launched = supervisor_.launch(*unit_); !launched) return abort_with(launched);
    phase_ = Phase::running;
    return {};
  }

  Result<WaitOutcome> wait() {
    if (phase_ != Phase::running) return out_of_order("wait");
    auto timer = phase_timer("build");
    auto outcome = supervisor_.wait(*unit_, config_.deadline);
    if (!outcome) return abort_with(outcome.status()).error();
    report_.build = *outcome;
    phase_ = Phase::finished;
    return outcome;
  }

  // Kills and verifies, keeping the mount. Fails, leaving the rest to
  // teardown (which kills again), when a process survived or the survivors
  // could not be listed. A weak supervisor's "none visible" lets it stop, and
  // the report says it is no proof (containment_proven stays false).
  Status stop() {
    if (phase_ != Phase::finished) return out_of_order("stop");
    auto timer = phase_timer("stop");
    report_.steps.clear();
    report_.remains.clear();
    detail::unwind_processes(Policies<V, M, S>{volumes_, mounter_, supervisor_}, unit_, config_.grace, report_);
    if (!report_.remains.empty())
      return abort_with(logic_error("stop", plan_.name, "the build's processes are not proven gone"));
    phase_ = Phase::stopped;
    return {};
  }

  // Idempotent: may run after any step, once or again. A repeated teardown
  // first takes back the record it let go of; if a reaper holds it, or has
  // settled it already, the session's resources are no longer its to touch.
  Report teardown() {
    if (phase_ == Phase::idle) return report_;
    auto timer = phase_timer("teardown");
    if (phase_ == Phase::torn_down && !readopt()) return report_;
    const Policies<V, M, S> policies{volumes_, mounter_, supervisor_};
    if (phase_ == Phase::stopped) {  // the processes are done with: their steps stay in the report
      unwind_storage(policies, plan_, unit_, report_);
    } else {
      report_.steps.clear();
      report_.remains.clear();
      unwind(policies, plan_, unit_, config_.grace, report_, config_.verify);
    }
    settle_record(journal_, plan_.name, report_);
    phase_ = Phase::torn_down;
    timer.stop();
    return report_;
  }

  // The whole lifecycle; failures end up in the report, never skip teardown.
  Report run(BuildRequest request) {
    if (Status begun = begin(std::move(request)); !begun) return report_;
    if (setup() && start()) (void)wait();
    return teardown();
  }

  const SessionPlan& plan() const { return plan_; }
  const std::string& name() const { return plan_.name; }
  Phase phase() const { return phase_; }
  const std::optional<typename S::Unit>& unit() const { return unit_; }

 private:
  class PhaseTimer {
   public:
    PhaseTimer(Report& report, std::string name)
        : report_(&report), name_(std::move(name)), start_(std::chrono::steady_clock::now()) {}
    PhaseTimer(const PhaseTimer&) = delete;
    ~PhaseTimer() { stop(); }
    void stop() {
      if (!report_) return;
      std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start_;
      report_->phase_ms.emplace_back(name_, elapsed.count());
      report_ = nullptr;
    }

   private:
    Report* report_;
    std::string name_;
    std::chrono::steady_clock::time_point start_;
  };

  PhaseTimer phase_timer(std::string name) { return PhaseTimer(report_, std::move(name)); }

  // Mount points are removed again, and nothing is ever removed from the
  // root filesystem: so they must not be made there in the first place.
  Status check_run_dir() {
    auto facts = mounter_.facts(config_.run_dir);
    if (!facts) return facts.status();
    if (facts->path_device == facts->root_device)
      return logic_error("check run dir", config_.run_dir, "is on the root filesystem's device; use a tmpfs such as /run");
    return {};
  }

  Status abort_with(Status status) {
    phase_ = Phase::failed;
    return fail(std::move(status));
  }

  bool readopt() {
    auto adopted = journal_.try_adopt(plan_.name);
    if (adopted && *adopted) return true;
    report_.steps.clear();
    if (!adopted && adopted.code() == ENOENT) {  // a reaper finished the job and erased the record
      report_.remains.clear();
      report_.add("journal", plan_.name, Outcome::absent, "record already settled");
    } else {  // what the last teardown left still stands, and is not ours to touch now
      std::string why = adopted ? "held by another controller" : adopted.error().message();
      report_.add("journal", plan_.name, Outcome::refused, why);
      report_.remain(ResourceKind::journal, plan_.name, why);
    }
    return false;
  }

  Status fail(Status status) {
    report_.errors.push_back(status.error());
    return status;
  }

  Error out_of_order(std::string_view step) const {
    return logic_error("session step", plan_.name, fmt::format("'{}' called out of order", step));
  }

  V& volumes_;
  M& mounter_;
  S& supervisor_;
  J& journal_;
  SessionConfig config_;
  NonceSource nonce_;
  BuildRequest request_;
  bool root_shows_shifted_ids_ = false;  // the snapshot's MountSpec says so
  SessionPlan plan_;
  std::optional<typename S::Unit> unit_;
  Phase phase_ = Phase::idle;
  Report report_;
};

}  // namespace snapcell
