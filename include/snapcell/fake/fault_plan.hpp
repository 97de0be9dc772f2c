#pragma once
// Which call of which operation fails, and how. Faults are one-shot: the Nth
// call of an operation fails once; a retry is a new call. The plan records
// which armed faults fired: a fault on a call that never comes tested
// nothing, and a test that counts fault points counts only those that fired.

#include <cerrno>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace snapcell::fake {

enum class Op {
  journal_claim, journal_update, journal_read, journal_names, journal_adopt, journal_release, journal_erase,
  snapshot, remove_volume, list_volumes, mount_spec,
  make_dir, remove_dir, mount, facts, unmount, holders, list_dir,
  unit_spawn, unit_launch, unit_wait, unit_kill, unit_survivors, unit_signal, unit_release,
  count_
};

inline constexpr int op_count = static_cast<int>(Op::count_);

inline std::string_view to_string(Op op) {
  constexpr std::string_view names[] = {
      "journal claim", "journal update", "journal read", "journal names", "journal adopt", "journal release",
      "journal erase", "snapshot", "remove volume", "list volumes", "mount spec", "mkdir", "rmdir", "mount",
      "stat+mountinfo", "umount2", "holders", "list dir", "spawn", "launch", "wait", "kill all", "survivors", "signal member",
      "release unit"};
  static_assert(std::size(names) == op_count);
  return names[static_cast<int>(op)];
}

// Ordered by severity, as FoundationDB orders its faults.
enum class FaultKind { busy, no_space, io_error, permission_denied, crash };
inline constexpr FaultKind all_fault_kinds[] = {FaultKind::busy, FaultKind::no_space, FaultKind::io_error,
                                                FaultKind::permission_denied, FaultKind::crash};

inline std::string_view to_string(FaultKind kind) {
  switch (kind) {
    case FaultKind::busy: return "busy";
    case FaultKind::no_space: return "no space";
    case FaultKind::io_error: return "I/O error";
    case FaultKind::permission_denied: return "permission denied";
    case FaultKind::crash: return "controller crash";
  }
  return "?";
}

inline int errno_of(FaultKind kind) {
  switch (kind) {
    case FaultKind::busy: return EBUSY;
    case FaultKind::no_space: return ENOSPC;
    case FaultKind::io_error: return EIO;
    case FaultKind::permission_denied: return EACCES;
    case FaultKind::crash: return EIO;
  }
  return EIO;
}

struct Fault {
  Op op{};
  int call = 1;  // 1-based: the Nth call of `op` fails
  FaultKind kind{};
};

inline std::string describe(const Fault& fault) {
  return fmt::format("{} on call {} of '{}'", to_string(fault.kind), fault.call, to_string(fault.op));
}

class FaultPlan {
 public:
  void add(Fault fault) { faults_.push_back(fault); }
  void clear() {
    faults_.clear();
    calls_.clear();
    fired_.clear();
  }
  const std::vector<Fault>& faults() const { return faults_; }
  int calls(Op op) const {
    auto it = calls_.find(op);
    return it == calls_.end() ? 0 : it->second;
  }

  // Faults whose call has not come yet.
  int pending() const {
    int count = 0;
    for (const Fault& fault : faults_)
      if (fault.call > calls(fault.op)) ++count;
    return count;
  }

  // The armed faults whose call came, in the order they fired.
  const std::vector<Fault>& fired() const { return fired_; }

  // Counts the call; says whether a fault is due at it (and records it fired).
  std::optional<FaultKind> next(Op op) {
    int call = ++calls_[op];
    for (const Fault& fault : faults_)
      if (fault.op == op && fault.call == call) {
        fired_.push_back(fault);
        return fault.kind;
      }
    return std::nullopt;
  }

 private:
  std::vector<Fault> faults_;
  std::map<Op, int> calls_;
  std::vector<Fault> fired_;
};

}  // namespace snapcell::fake
