// Who a build runs as, and whose /build it gets (cli/build_identity.hpp):
// the ids as the snapshot stores them follow the owner of its root (0: it
// is idmapped for the sandbox; the range's first id: it is shifted), and a
// root owned by anyone else is refused rather than guessed at.

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include <catch2/catch.hpp>

#include "cli/build_identity.hpp"
#include "temp_dir.hpp"

namespace {

namespace cli = snapcell::cli;

struct TempDir : snapcell::test::TempDir {
  TempDir() : snapcell::test::TempDir("snapcell-build-identity") {}
};

cli::BuildIdentity own_namespace(std::uint32_t first) {
  return cli::BuildIdentity{snapcell::IdRange{first, 65536}, cli::build_user_in_namespace, {}};
}

// disk_owners of a snapshot root owned by `uid`.
snapcell::Result<cli::DiskOwners> owners_for_root_of(const cli::BuildIdentity& identity, std::uint32_t uid) {
  TempDir root;
  REQUIRE(::chown(root.path.c_str(), uid, uid) == 0);
  const int fd = ::open(root.path.c_str(), O_RDONLY | O_DIRECTORY);
  REQUIRE(fd >= 0);
  auto owners = cli::disk_owners(identity, fd, root.path);
  ::close(fd);
  return owners;
}

}  // namespace

TEST_CASE("build identity: the build user is 1000 inside, its host uid and ids are the range's") {
  const auto identity = own_namespace(3'200'065'536u);
  CHECK(identity.uid == 1000);
  CHECK(identity.host_uid() == 3'200'066'536u);
  CHECK(identity.host_ids().first == 3'200'065'536u);
  CHECK(identity.host_ids().count == 65536);
  const cli::BuildIdentity host{snapcell::IdRange{}, 3'100'000'042u, {}};
  CHECK(host.host_uid() == 3'100'000'042u);
  CHECK(host.host_ids().count == 1);
}

TEST_CASE("build identity: /build's owner on disk follows the snapshot's root, and a stranger's root is refused") {
  if (::geteuid() != 0) {
    std::puts("SKIPPED: chown needs root");
    return;
  }
  const std::uint32_t first = 3'200'131'072u;
  const auto identity = own_namespace(first);

  auto idmapped = owners_for_root_of(identity, 0);  // idmapped for the sandbox later: ids as inside
  REQUIRE(idmapped);
  CHECK(idmapped->root == 0);
  CHECK(idmapped->build == 1000);

  auto shifted = owners_for_root_of(identity, first);  // already shifted onto the range
  REQUIRE(shifted);
  CHECK(shifted->root == first);
  CHECK(shifted->build == first + 1000);

  auto stranger = owners_for_root_of(identity, 4242);
  REQUIRE_FALSE(stranger);
  CHECK_THAT(stranger.error().message(), Catch::Contains("owned by uid 4242, neither root nor the first id"));

  const cli::BuildIdentity host{snapcell::IdRange{}, 3'100'000'042u, {}};
  auto host_owned = owners_for_root_of(host, 4242);  // the host's namespace: nothing is mapped
  REQUIRE(host_owned);
  CHECK(host_owned->root == 0);
  CHECK(host_owned->build == 3'100'000'042u);
}
