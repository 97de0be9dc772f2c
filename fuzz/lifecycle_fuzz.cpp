// Fuzz target: the whole lifecycle (Session, unwind, reap) on the simulated
// kernel (include/snapcell/fake), under fault plans the fuzzer writes.
//
// The input is a program (fuzz/byte_reader.hpp reads it; bytes past the end
// read as 0, so every byte string is one):
//
//   supervisor  1 byte   0 default (cgroup + PID namespace), 1 cgroup,
//                        2 PID namespace, 3 session (setsid + killpg, weak)
//   capacity    1 byte   snapshots that fit: 10, 2, 1 or 0
//   faults      1 byte   0-3 faults armed before anything runs, each 3 bytes:
//                        op (Op, modulo op_count), kind (FaultKind), call (1-4)
//   commands    2-4 bytes each, up to 64:
//     0 open SLOT BEHAVIOUR   a new controller begins a session in slot 0-2
//     1 step SLOT             setup, start, or wait then teardown: one phase on
//     2 step SLOT             (twice as likely as the rest)
//     3 close SLOT            teardown; the controller exits
//     4 crash SLOT            the slot's controller dies where it stands
//     5 fault OP KIND AHEAD   the AHEAD-th (1-3) next call of OP fails so
//     6 reap                  `snapcell reap` from a fresh controller
//     7 run BEHAVIOUR         a whole run() on a fresh controller, which exits
//
// A weak supervisor is only held to builds that stay in their process
// group (fake/simulation.hpp's behaviours_for, as in harness/property):
// BEHAVIOUR picks among those. Commands on an empty slot (or an open one for
// `open`) do nothing.
//
// Every invariant check is an assertion, as in harness/property: check_always
// after every command; check_nothing_leaked after each teardown by a live
// controller; check_all_gone for every session a fault-free reap adopted;
// at the end, every slot closed and a final fault-free reap, check_all_gone
// for every session ever named, and check_bounded for a containing
// supervisor (sessions whose controller died, or whose kill the kernel
// refused every time, are exempt, as in the stateful test). A violation
// aborts with fake::describe(violations) and the decoded program.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "byte_reader.hpp"
#include "snapcell/fake/simulation.hpp"

namespace {

using namespace snapcell;
using namespace snapcell::fake;
using snapcell::fuzz::ByteReader;

constexpr int slot_count = 3;
constexpr int max_commands = 64;
constexpr std::uint64_t capacities[] = {10, 2, 1, 0};

template <class S>
class Program {
 public:
  using FakeSession = typename Simulation<S>::FakeSession;

  explicit Program(std::uint64_t capacity) : sim_(options(capacity)) {
    trace_.push_back(fmt::format("supervisor {}, capacity {}", S::kind, capacity));
  }

  void run(ByteReader& in) {
    for (int n = in.in_range(0, 3); n > 0; --n) {
      Fault fault = read_fault(in);
      fault.call = in.in_range(1, 4);
      sim_.world.faults().add(fault);
      trace_.push_back("armed: " + describe(fault));
    }
    for (int count = 0; count < max_commands && !in.empty(); ++count) {
      switch (in.byte() % 8) {
        case 0: {
          const int slot = in.in_range(0, slot_count - 1);  // read in order: argument order is unspecified
          open(slot, read_behaviour(in));
          break;
        }
        case 1:
        case 2: step(in.in_range(0, slot_count - 1)); break;
        case 3: close(in.in_range(0, slot_count - 1)); break;
        case 4: crash(in.in_range(0, slot_count - 1)); break;
        case 5: arm(in); break;
        case 6: reap(); break;
        case 7: run_whole(read_behaviour(in)); break;
      }
    }
    finish();
  }

 private:
  struct Slot {
    FakeController<S>* controller = nullptr;
    std::unique_ptr<FakeSession> session;
  };

  static WorldOptions options(std::uint64_t capacity) {
    WorldOptions options;
    options.capacity = capacity;
    return options;
  }

  Fault read_fault(ByteReader& in) {
    Fault fault;
    fault.op = static_cast<Op>(in.byte() % op_count);
    fault.kind = all_fault_kinds[in.byte() % std::size(all_fault_kinds)];
    return fault;
  }

  Behaviour read_behaviour(ByteReader& in) {
    static const std::vector<Behaviour> behaviours = behaviours_for<S>();
    return in.pick(std::span<const Behaviour>(behaviours));
  }

  void open(int slot, Behaviour behaviour) {
    auto& s = slots_[slot];
    if (s.session) return;
    trace_.push_back(fmt::format("open slot {} running '{}'", slot, to_string(behaviour)));
    s.controller = &sim_.add_controller();
    s.session = sim_.new_session(*s.controller);
    if (s.session->begin(sim_.request(behaviour))) note_name(s.session->name());
    check("open");
  }

  void step(int slot) {
    auto& s = slots_[slot];
    if (!s.session) return;
    auto& session = *s.session;
    trace_.push_back(fmt::format("step slot {} ({})", slot, phase_name(session.phase())));
    switch (session.phase()) {
      case Phase::claimed: (void)session.setup(); break;
      case Phase::ready: (void)session.start(); break;
      case Phase::running: {
        if (session.wait() && slot % 2 == 1) (void)session.stop();  // slot 1 stops before its teardown
        const Report report = session.teardown();
        after_teardown(report, *s.controller);
        break;
      }
      default: break;
    }
    check("step");
  }

  void close(int slot) {
    auto& s = slots_[slot];
    if (!s.session) return;
    trace_.push_back(fmt::format("close slot {}", slot));
    const Report report = s.session->teardown();
    after_teardown(report, *s.controller);
    s.session.reset();
    sim_.world.exit_controller(s.controller->id);  // `snapcell run` is single-shot
    check("close");
  }

  void crash(int slot) {
    auto& s = slots_[slot];
    if (!s.session) return;
    trace_.push_back(fmt::format("crash the controller of slot {}", slot));
    sim_.world.crash(s.controller->id);
    if (!s.session->name().empty()) crashed_.insert(s.session->name());
    s.session.reset();  // a dead controller's teardown has no effect
    check("crash");
  }

  void arm(ByteReader& in) {
    Fault fault = read_fault(in);
    const int ahead = in.in_range(1, 3);
    fault.call = sim_.world.faults().calls(fault.op) + ahead;
    sim_.world.faults().add(fault);
    trace_.push_back("armed: " + describe(fault));
  }

  void reap() {
    const bool faults_pending = sim_.world.faults().pending() > 0;
    trace_.push_back(fmt::format("reap{}", faults_pending ? " (faults pending)" : ""));
    const ReapReport reaped = sim_.reap();
    check("reap");
    if (faults_pending) return;
    // Without faults, every session not held by a live controller is gone.
    for (const auto& report : reaped.sessions)
      require(check_all_gone(sim_.world, report.session, "after a fault-free reap"), "reap", &report);
  }

  void run_whole(Behaviour behaviour) {
    trace_.push_back(fmt::format("run '{}' on a fresh controller", to_string(behaviour)));
    auto& controller = sim_.add_controller();
    Report report;
    {
      auto session = sim_.new_session(controller);
      report = session->run(sim_.request(behaviour));
      if (!report.session.empty()) note_name(report.session);
    }
    after_teardown(report, controller);
    sim_.world.exit_controller(controller.id);
    check("run");
  }

  // The end of the world: every slot closed, no faults, a last reap.
  void finish() {
    for (auto& s : slots_) {
      if (!s.session) continue;
      const Report report = s.session->teardown();
      if (!sim_.world.controller_alive(s.controller->id) && !report.session.empty()) crashed_.insert(report.session);
      else note(report);
      s.session.reset();
      sim_.world.exit_controller(s.controller->id);
    }
    trace_.push_back("close every slot, clear the faults, reap");
    sim_.world.faults().clear();
    (void)sim_.reap();
    check("the final reap");
    std::vector<Violation> violations;
    for (const auto& name : names_) append(violations, check_all_gone(sim_.world, name, "at the end"));
    let_time_pass(sim_);
    std::set<std::string> exempt = crashed_;
    exempt.insert(kill_refused_.begin(), kill_refused_.end());
    append(violations, check_bounded_if_containing(sim_, exempt));
    require(violations, "the end");
  }

  void after_teardown(const Report& report, const FakeController<S>& controller) {
    if (!sim_.world.controller_alive(controller.id)) {
      if (!report.session.empty()) crashed_.insert(report.session);
      return;
    }
    note(report);
    require(check_nothing_leaked(sim_.world, report), "teardown", &report);
  }

  // Sessions whose kill the kernel refused on every attempt: the report names
  // the survivors (I3) and reap ends them (I6), but I7 cannot hold for them.
  void note(const Report& report) {
    for (const auto& r : report.remains)
      if (r.kind == ResourceKind::process || r.kind == ResourceKind::unit) kill_refused_.insert(report.session);
  }

  void note_name(const std::string& name) {
    if (!names_.insert(name).second)
      require({{"I5", fmt::format("session name {} was given out twice", name)}}, "begin");
  }

  void check(const char* after) { require(check_always(sim_.world), after); }

  void require(const std::vector<Violation>& violations, const char* after, const Report* report = nullptr) {
    if (violations.empty()) return;
    std::string program;
    for (const auto& line : trace_) program += "  " + line + "\n";
    fmt::print(stderr, "lifecycle: invariant violated after {}\n{}program:\n{}{}", after, describe(violations),
               program, report ? format_report(*report) : "");
    std::fflush(stderr);
    std::abort();
  }

  static const char* phase_name(Phase phase) {
    switch (phase) {
      case Phase::idle: return "idle";
      case Phase::claimed: return "claimed: setup";
      case Phase::ready: return "ready: start";
      case Phase::running: return "running: wait, teardown";
      case Phase::finished: return "finished";
      case Phase::stopped: return "stopped";
      case Phase::failed: return "failed";
      case Phase::torn_down: return "torn down";
    }
    return "?";
  }

  Simulation<S> sim_;
  std::array<Slot, slot_count> slots_;
  std::set<std::string> names_;
  std::set<std::string> crashed_;  // sessions whose controller died: I7 is reap's job for them
  std::set<std::string> kill_refused_;
  std::vector<std::string> trace_;
};

template <class S>
void run_program(ByteReader& in, std::uint64_t capacity) {
  Program<S> program(capacity);
  program.run(in);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  const int supervisor = in.byte() % 4;
  const std::uint64_t capacity = in.pick(capacities);
  switch (supervisor) {
    case 0: run_program<DefaultSupervisor>(in, capacity); break;
    case 1: run_program<CgroupSupervisor>(in, capacity); break;
    case 2: run_program<PidNamespaceSupervisor>(in, capacity); break;
    case 3: run_program<SessionSupervisor>(in, capacity); break;
  }
  return 0;
}
