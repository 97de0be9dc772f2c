// Turnaround: one throwaway sandbox running /bin/true, for every backend and
// supervisor, with and without verification; and its growth with the base.

#include "benchmarks.hpp"
#include "session_runs.hpp"

namespace snapcell::bench {

namespace {

template <class V, class S>
void register_turnaround(bool verify) {
  const std::string name = fmt::format("turnaround/{}/{}/{}", Backend<V>::name, S::kind, verify ? "verified" : "unverified");
  auto* b = benchmark::RegisterBenchmark(name.c_str(), [verify](benchmark::State& state) {
    run_turnarounds<V, S>(state, Backend<V>::base(base_sizes().small_mib), verify);
  });
  b->Unit(benchmark::kMillisecond);
  if (tiny()) b->Iterations(1);
}

template <class V>
void register_backend() {
  for (bool verify : {true, false}) {
    register_turnaround<V, linux_sys::DefaultSupervisor>(verify);
    register_turnaround<V, linux_sys::CgroupSupervisor>(verify);
    register_turnaround<V, linux_sys::PidNamespaceSupervisor>(verify);
    register_turnaround<V, linux_sys::SessionSupervisor>(verify);
  }
}

// Growth with the base: default supervisor, full verification, both sizes.
template <class V>
void register_growth() {
  const BaseSizes sizes = base_sizes();
  for (unsigned mib : {sizes.small_mib, sizes.large_mib}) {
    const std::string name = fmt::format("growth/{}/{}MiB", Backend<V>::name, mib);
    auto* b = benchmark::RegisterBenchmark(name.c_str(), [mib](benchmark::State& state) {
      const std::string& origin = Backend<V>::base(mib);
      run_turnarounds<V, linux_sys::DefaultSupervisor>(state, origin, true);
      state.counters["base_mib"] = mib;
    });
    b->Unit(benchmark::kMillisecond);
    if (tiny()) b->Iterations(1);
  }
}

}  // namespace

void register_turnaround_benchmarks() {
  register_backend<linux_sys::OverlayVolumes>();
  register_backend<linux_sys::BtrfsVolumes>();
  register_backend<linux_sys::CopyVolumes>();
  register_growth<linux_sys::OverlayVolumes>();
  register_growth<linux_sys::BtrfsVolumes>();
  register_growth<linux_sys::CopyVolumes>();
}

}  // namespace snapcell::bench
