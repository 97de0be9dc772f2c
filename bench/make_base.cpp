// snapcell-bench-base DIR MIB: makes the benchmarks' base (base.hpp) in the
// empty directory DIR, with MIB MiB of padding, so that bench/compare gives
// every peer the very base snapcell-bench measures on.

#include <cstdio>
#include <exception>
#include <string>

#include "base.hpp"
#include "snapcell/linux/numbers.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: snapcell-bench-base DIR MIB\n");
    return 2;
  }
  auto mib = snapcell::linux_text::parse_decimal<unsigned>(argv[2]);
  if (!mib || *mib > 100'000) {
    std::fprintf(stderr, "snapcell-bench-base: MIB '%s' is not a number of MiB up to 100000\n", argv[2]);
    return 2;
  }
  try {
    snapcell::bench::make_base(argv[1], *mib);
  } catch (const std::exception& failure) {
    std::fprintf(stderr, "snapcell-bench-base: %s\n", failure.what());
    return 1;
  }
  return 0;
}
