// Snapshot create and remove times, classic against thin, on the same
// guest and volume group. The guest may be emulated: only the ratio means
// anything. Printed as SNAPCELL-VM-MEASURE lines; every operation must
// succeed, no time is asserted.

#include <chrono>

#include "guest_world.hpp"

namespace snapcell::vm {
namespace {

constexpr int kRounds = 7;

struct Timing {
  double create_ms = 0, remove_ms = 0;
};

Timing measure(CaseContext& context, lx::LvmSnapshotMode mode, const std::string& origin) {
  auto volumes = volumes_for(mode);
  std::vector<double> created, removed;
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  for (int i = 0; i < kRounds; ++i) {
    const std::string name = session_name(kPrefix, next_nonce());
    const auto t0 = Clock::now();
    auto spec = volumes.snapshot(origin, name);
    const auto t1 = Clock::now();
    if (!VM_CHECK_MSG(context, spec.is_ok(), spec ? "" : spec.error().message())) break;
    Status gone = volumes.remove(name);
    const auto t2 = Clock::now();
    if (!VM_CHECK_MSG(context, gone.is_ok(), gone ? "" : gone.error().message())) break;
    created.push_back(ms(t1 - t0));
    removed.push_back(ms(t2 - t1));
  }
  if (created.empty()) return {};
  return {median_of(created), median_of(removed)};
}

void create_remove_times(CaseContext& context) {
  const Timing classic = measure(context, lx::LvmSnapshotMode::classic, kClassicOrigin);
  const Timing thin = measure(context, lx::LvmSnapshotMode::thin, kThinOrigin);
  fmt::print("SNAPCELL-VM-MEASURE classic create_ms={:.1f} remove_ms={:.1f} (median of {})\n", classic.create_ms,
             classic.remove_ms, kRounds);
  fmt::print("SNAPCELL-VM-MEASURE thin create_ms={:.1f} remove_ms={:.1f} (median of {})\n", thin.create_ms,
             thin.remove_ms, kRounds);
  if (classic.create_ms > 0 && classic.remove_ms > 0)
    fmt::print("SNAPCELL-VM-MEASURE ratio thin/classic create={:.2f} remove={:.2f}\n", thin.create_ms / classic.create_ms,
               thin.remove_ms / classic.remove_ms);
}

const Register measured(500, "snapshot-create-remove-times", create_remove_times);

}  // namespace
}  // namespace snapcell::vm
