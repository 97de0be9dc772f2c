#pragma once
// How a fuzz target reports a broken property: what failed, on which input,
// then abort(), which libFuzzer (and the replay main) count as a crash and
// keep the input for.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "snapcell/linux/numbers.hpp"

namespace snapcell::fuzz {

[[noreturn]] inline void violated(std::string_view condition, std::string_view what, std::string_view input) {
  fmt::print(stderr, "PROPERTY VIOLATED: {}\n  check: {}\n  input ({} bytes): {}\n", what, condition, input.size(),
             linux_text::excerpt(input, 600));
  std::fflush(stderr);
  std::abort();
}

}  // namespace snapcell::fuzz

// FUZZ_CHECK(condition, input, format, args...): `input` is what the target
// was given (or the piece of it that matters), printed on failure.
#define FUZZ_CHECK(condition, input, ...)                                                     \
  do {                                                                                        \
    if (!(condition)) ::snapcell::fuzz::violated(#condition, fmt::format(__VA_ARGS__), input); \
  } while (false)
