#pragma once
// A mkdtemp directory under /tmp for a CLI unit test, removed with
// everything in it when the test case ends (pass or fail). No mount, so the
// tests that use it need no root.

#include <stdlib.h>

#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>

namespace snapcell::test {

struct TempDir {
  std::string path;
  explicit TempDir(const char* prefix) {
    std::string pattern = fmt::format("/tmp/{}.XXXXXX", prefix);
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() { (void)!std::system(fmt::format("rm -rf '{}'", path).c_str()); }
};

}  // namespace snapcell::test
