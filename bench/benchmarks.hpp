#pragma once
// The benchmark families; main() registers them (sizes depend on
// SNAPCELL_BENCH_TINY, so registration happens at run time).

#include <benchmark/benchmark.h>

namespace snapcell::bench {

void register_turnaround_benchmarks();  // turnaround.cpp: per backend x supervisor, verified or not; growth
void register_floor_benchmark();        // floor.cpp: the raw-syscall sequence
void register_kill_benchmarks();        // kill_latency.cpp: N leftovers per supervisor
void register_scan_benchmarks();        // scan_cost.cpp: leftover scan against processes on the machine

}  // namespace snapcell::bench
