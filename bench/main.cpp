// snapcell-bench: Google Benchmark's command line (--benchmark_filter,
// --benchmark_format=json, ...), run as root. The lab (scratch tmpfs, bases,
// loop btrfs, cgroup parents) lives for the run and is removed before exit.

#include <unistd.h>

#include <cstdio>
#include <memory>

#include "benchmarks.hpp"
#include "lab.hpp"

namespace snapcell::bench {
namespace {
std::unique_ptr<Lab> the_lab;
}
Lab& lab() {
  if (!the_lab) the_lab = std::make_unique<Lab>();
  return *the_lab;
}
}  // namespace snapcell::bench

int main(int argc, char** argv) {
  using namespace snapcell::bench;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  if (::geteuid() != 0) {
    std::fprintf(stderr, "SKIPPED: snapcell-bench needs root (mounts, loop devices, cgroups)\n");
    return 0;
  }
  register_turnaround_benchmarks();
  register_floor_benchmark();
  register_kill_benchmarks();
  register_scan_benchmarks();
  int status = 0;
  try {
    benchmark::RunSpecifiedBenchmarks();
  } catch (const std::exception& failure) {
    std::fprintf(stderr, "snapcell-bench: %s\n", failure.what());
    status = 1;
  }
  the_lab.reset();
  benchmark::Shutdown();
  return status;
}
