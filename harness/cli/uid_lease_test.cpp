// I9's lease rule, on the real host (root): a build uid is not leased while
// any process runs as it, whatever became of the controller that held it
// (a build orphaned by a SIGKILLed `snapcell build` under --supervisor
// cgroup runs on until reap, and its lock died with its controller).

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "cli/build_uid.hpp"
#include "cli/id_lease.hpp"
#include "cli/state.hpp"

namespace cli = snapcell::cli;

namespace {

// A child that takes `uid` as every id and waits; killed and reaped on scope exit.
struct RunsAs {
  explicit RunsAs(std::uint32_t uid) {
    pid = ::fork();
    if (pid == 0) {
      if (::setresgid(uid, uid, uid) != 0 || ::setresuid(uid, uid, uid) != 0) ::_exit(1);
      for (;;) ::pause();
    }
  }
  ~RunsAs() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);  // our own unreaped child: its pid cannot have been reused
      ::waitpid(pid, nullptr, 0);
    }
  }
  pid_t pid = -1;
};

// The child has switched ids once /proc shows it with them.
bool seen_as(std::uint32_t uid) {
  for (int i = 0; i < 200; ++i) {
    auto in_use = cli::ids_in_use({uid, 1});
    if (in_use && *in_use) return true;
    ::usleep(5'000);
  }
  return false;
}

}  // namespace

TEST_CASE("uid lease: a uid some process still runs as is skipped, and leased again once it is gone", "[host]") {
  if (::geteuid() != 0) {
    WARN("SKIPPED: needs root");
    return;
  }
  char scratch_template[] = "/tmp/snapcell-uid-lease.XXXXXX";
  REQUIRE(::mkdtemp(scratch_template) != nullptr);
  const std::string scratch = scratch_template;
  const std::uint64_t nonce = 4242;
  const std::uint32_t first = cli::build_uid_first + nonce % cli::build_uid_count;

  {
    auto lease = cli::lease_build_uid(scratch, nonce);
    REQUIRE(lease);
    CHECK(lease->uid == first);  // nobody runs as it, nobody holds it
  }  // released: the lock goes with the fd, as when a controller dies
  {
    RunsAs orphan(first);  // what a build orphaned by a SIGKILLed controller looks like
    REQUIRE(seen_as(first));
    auto lease = cli::lease_build_uid(scratch, nonce);
    REQUIRE(lease);
    CHECK(lease->uid != first);
    CHECK(lease->uid == first + 1);
  }
  auto lease = cli::lease_build_uid(scratch, nonce);
  REQUIRE(lease);
  CHECK(lease->uid == first);
  std::error_code ignored;
  std::filesystem::remove_all(scratch, ignored);
}

// The same rule for a user namespace's range: one id of the block in use by
// a live process (root inside is the block's first, a build user inside
// any other) and the whole block is skipped; two leases in force never hold
// one block, and a lease ends with its fd.
TEST_CASE("id range lease: a block with any id in use or held is skipped; released with its fd", "[host]") {
  if (::geteuid() != 0) {
    WARN("SKIPPED: needs root");
    return;
  }
  char scratch_template[] = "/tmp/snapcell-id-lease.XXXXXX";
  REQUIRE(::mkdtemp(scratch_template) != nullptr);
  const std::string scratch = scratch_template;
  const std::uint64_t nonce = 77;
  const cli::IdPool pool = cli::user_namespace_pool;
  const std::uint32_t first = pool.first + static_cast<std::uint32_t>(nonce % pool.blocks) * pool.block;
  {
    auto held = cli::lease_ids(scratch, pool, nonce);
    REQUIRE(held);
    CHECK(held->range.first == first);
    CHECK(held->range.count == 65'536u);
    auto next = cli::lease_ids(scratch, pool, nonce);  // the first is locked: the next block
    REQUIRE(next);
    CHECK(next->range.first == first + 65'536u);
  }
  {
    RunsAs inside(first + 1000);  // a build user inside an orphaned build's namespace
    REQUIRE(seen_as(first + 1000));
    CHECK_FALSE(*cli::ids_in_use({first + 1001, 100}));
    auto lease = cli::lease_ids(scratch, pool, nonce);
    REQUIRE(lease);
    CHECK(lease->range.first == first + 65'536u);
  }
  auto lease = cli::lease_ids(scratch, pool, nonce);
  REQUIRE(lease);
  CHECK(lease->range.first == first);
  std::error_code ignored;
  std::filesystem::remove_all(scratch, ignored);
}
