#pragma once
// Recovery after a controller died: the same unwinding as a live teardown,
// driven by the journal and the naming convention. A session is reaped only
// once its journal record has been adopted, which succeeds only when no live
// controller holds it; an orphan found by name alone is first claimed, so a
// session that starts meanwhile cannot be mistaken for one.

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "snapcell/journal.hpp"
#include "snapcell/names.hpp"
#include "snapcell/policies.hpp"
#include "snapcell/report.hpp"
#include "snapcell/unwind.hpp"

namespace snapcell {

struct ReapConfig {
  std::string prefix = "snapcell";
  std::string run_dir;
  Millis grace{2'000};
};

struct ReapReport {
  std::vector<Report> sessions;
  std::vector<std::string> live;        // records held by a live controller: left alone
  std::vector<std::string> other_kind;  // records of another backend or supervisor: for that kind's reap
  std::vector<Error> errors;

  bool clean() const {
    return errors.empty() && std::all_of(sessions.begin(), sessions.end(), [](const Report& r) { return r.clean(); });
  }
};

namespace detail {

// The record is trusted only as far as it agrees with the naming convention;
// otherwise the convention alone says what to look for.
template <VolumeManager V, Supervisor S>
std::pair<SessionPlan, std::optional<typename S::Unit>> plan_to_reap(S& supervisor, const std::string& name,
                                                                     const Result<std::string>& record,
                                                                     const ReapConfig& config, Report& report) {
  if (record) {
    auto plan = parse_plan(*record);
    if (plan && validate_plan(*plan, config.prefix, config.run_dir)) {
      std::optional<typename S::Unit> unit;
      if (!plan->unit.empty()) {
        auto parsed = S::Unit::parse(plan->unit);
        if (parsed && parsed->belongs_to(name)) unit = std::move(*parsed);
        else unit = supervisor.unit_for(name);
      }
      return {std::move(*plan), std::move(unit)};
    }
    report.add("journal", name, Outcome::refused, "record unreadable or inconsistent; using the naming convention");
  }
  SessionPlan plan = plan_for(name, "", config.run_dir, std::string(V::kind), std::string(S::kind));
  return {std::move(plan), supervisor.unit_for(name)};
}

// Whether the record names the kinds this reap runs with. A record that
// cannot be read is taken to be ours: the naming convention then decides.
template <VolumeManager V, Supervisor S>
bool same_kinds(const Result<std::string>& record) {
  if (!record) return true;
  auto plan = parse_plan(*record);
  return !plan || (plan->volumes_kind == V::kind && plan->supervisor_kind == S::kind);
}

template <VolumeManager V, Mounter M, Supervisor S, JournalStore J>
Report reap_adopted(Policies<V, M, S> policies, J& journal, const std::string& name, const Result<std::string>& record,
                    const ReapConfig& config) {
  Report report;
  report.session = name;
  auto [plan, unit] = plan_to_reap<V>(policies.supervisor, name, record, config, report);
  unwind(policies, plan, unit, config.grace, report);
  settle_record(journal, name, report);
  return report;
}

}  // namespace detail

template <VolumeManager V, Mounter M, Supervisor S, JournalStore J>
ReapReport reap(Policies<V, M, S> policies, J& journal, const ReapConfig& config) {
  ReapReport result;
  if (Status valid = validate_prefix(config.prefix); !valid) return result.errors.push_back(valid.error()), result;
  if (Status valid = validate_absolute_path("run dir", config.run_dir); !valid)
    return result.errors.push_back(valid.error()), result;

  auto names = journal.names();
  if (!names) return result.errors.push_back(names.error()), result;
  std::vector<std::string> seen;
  for (const std::string& name : *names) {
    if (!is_session_name(config.prefix, name)) continue;
    seen.push_back(name);
    auto adopted = journal.try_adopt(name);
    if (!adopted) {
      result.errors.push_back(adopted.error());
      continue;
    }
    if (!*adopted) {
      result.live.push_back(name);
      continue;
    }
    auto record = journal.read(name);
    if (!detail::same_kinds<V, S>(record)) {
      result.other_kind.push_back(name);
      (void)journal.release(name);
      continue;
    }
    result.sessions.push_back(detail::reap_adopted(policies, journal, name, record, config));
  }

  // Leftovers with no record at all: a volume or a mount point that carries
  // a session name. Claiming the name first makes them ours to remove.
  std::vector<std::string> orphans;
  if (auto volumes = policies.volumes.list(config.prefix + "-"); volumes) {
    for (const auto& volume : *volumes) orphans.push_back(volume.name);
  } else {
    result.errors.push_back(volumes.error());
  }
  if (auto entries = policies.mounter.list_dir(config.run_dir); entries) {
    orphans.insert(orphans.end(), entries->begin(), entries->end());
  } else if (entries.code() != ENOENT) {
    result.errors.push_back(entries.error());
  }
  std::sort(orphans.begin(), orphans.end());
  orphans.erase(std::unique(orphans.begin(), orphans.end()), orphans.end());
  for (const std::string& name : orphans) {
    if (!is_session_name(config.prefix, name) || std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
    SessionPlan plan = plan_for(name, "", config.run_dir, std::string(V::kind), std::string(S::kind));
    if (Status claimed = journal.claim(name, serialize_plan(plan)); !claimed) {
      if (claimed.code() != EEXIST) result.errors.push_back(claimed.error());
      continue;
    }
    result.sessions.push_back(detail::reap_adopted(policies, journal, name, journal.read(name), config));
  }
  return result;
}

}  // namespace snapcell
