// What a build hands back, on its own (cli/wheel_out.hpp, cli/copy_in.hpp):
// a FIFO, a link or an oversized sparse file named like a wheel is refused
// without blocking and without copying, nothing is left staged in the output
// directory, and a capped copy stops one byte past the cap instead of
// copying a file that grew.

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "cli/copy_in.hpp"
#include "cli/wheel_out.hpp"
#include "temp_dir.hpp"

namespace {

struct TempDir : snapcell::test::TempDir {
  TempDir() : snapcell::test::TempDir("snapcell-wheel-out") {}
};

namespace fs = std::filesystem;
using snapcell::cli::collect_wheels;
using snapcell::cli::copy_data_at_most;
using snapcell::cli::max_wheel_bytes;

// A snapshot's /build/out as a build would leave it.
std::string make_out_dir(const TempDir& scratch) {
  const std::string root = scratch.path + "/snapshot";
  fs::create_directories(root + "/build/out");
  return root;
}

const std::string wheel = "pkg-1.0-py3-none-any.whl";

bool refused_with(const snapcell::cli::Collected& collected, const std::string& name, const std::string& why) {
  for (const auto& line : collected.refused)
    if (line.rfind(name + ": ", 0) == 0 && line.find(why) != std::string::npos) return true;
  return false;
}

}  // namespace

// What collect_wheels makes of one entry `make` puts at /build/out/<wheel>.
static snapcell::cli::Collected collect_one(const TempDir& scratch, const std::function<int(const std::string&)>& make) {
  const std::string root = make_out_dir(scratch);
  REQUIRE(make(root + "/build/out/" + wheel) == 0);
  auto collected = collect_wheels(root, "pkg", "1.0", scratch.path + "/wheels", "s1");
  REQUIRE(collected);
  CHECK(collected->wheels.empty());
  return *collected;
}

TEST_CASE("wheel out: a FIFO named like a wheel is refused at once, not waited on") {
  TempDir scratch;
  auto collected = collect_one(scratch, [](const std::string& path) { return ::mkfifo(path.c_str(), 0644); });
  CHECK(refused_with(collected, wheel, "not a regular file"));
}

TEST_CASE("wheel out: a link named like a wheel is refused, its target not read") {
  TempDir scratch;
  auto collected = collect_one(scratch, [](const std::string& path) { return ::symlink("/etc/passwd", path.c_str()); });
  CHECK(refused_with(collected, wheel, "not a regular file"));
}

TEST_CASE("wheel out: a sparse file over the cap is refused unread, and nothing is left staged") {
  TempDir scratch;
  const std::string root = make_out_dir(scratch);
  const std::string big = root + "/build/out/pkg-1.0-py3-none-any.whl";
  const int fd = ::open(big.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, static_cast<off_t>(max_wheel_bytes + 1)) == 0);
  ::close(fd);
  const std::string out = scratch.path + "/wheels";
  auto collected = collect_wheels(root, "pkg", "1.0", out, "s1");
  REQUIRE(collected);
  CHECK(collected->wheels.empty());
  CHECK(refused_with(*collected, "pkg-1.0-py3-none-any.whl", "over the"));
  CHECK(fs::is_empty(out));
}

TEST_CASE("wheel out: a capped copy takes a file of exactly the cap and refuses one byte more") {
  TempDir scratch;
  const std::string from_path = scratch.path + "/from";
  {
    const int fd = ::open(from_path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, "0123456789", 10) == 10);
    ::close(fd);
  }
  auto copy_with_cap = [&](std::uint64_t cap, const std::string& to_name) {
    const int from = ::open(from_path.c_str(), O_RDONLY);
    const int to = ::open((scratch.path + "/" + to_name).c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    REQUIRE((from >= 0 && to >= 0));
    auto status = copy_data_at_most(from, to, cap, from_path);
    ::close(from);
    ::close(to);
    return status;
  };
  CHECK(copy_with_cap(10, "exact"));
  CHECK(fs::file_size(scratch.path + "/exact") == 10);
  auto over = copy_with_cap(9, "over");
  REQUIRE_FALSE(over);
  CHECK_THAT(over.error().message(), Catch::Contains("more than the 9 bytes"));
  CHECK(fs::file_size(scratch.path + "/over") <= 9);  // not a byte past the cap written
}

TEST_CASE("wheel out: a build that left no /build/out hands back nothing and makes no output directory") {
  TempDir scratch;
  const std::string root = scratch.path + "/snapshot";
  fs::create_directories(root + "/build");
  const std::string out = scratch.path + "/wheels";
  auto collected = collect_wheels(root, "pkg", "1.0", out, "s1");
  REQUIRE(collected);
  CHECK(collected->wheels.empty());
  CHECK(collected->refused.empty());
  CHECK_FALSE(fs::exists(out));
}
