// Unit tests of names.hpp: prefix and path validation with each reason for
// refusal, the session name format and its exact recognition, and the path
// helpers the journal derives mount points with.

#include "snapcell/names.hpp"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include <catch2/catch.hpp>

using namespace std::string_literals;
using snapcell::is_session_name;
using snapcell::join_path;
using snapcell::parent_of;
using snapcell::session_name;
using snapcell::Status;
using snapcell::validate_absolute_path;
using snapcell::validate_prefix;

namespace {

std::string detail_of(const Status& status) { return status ? "<accepted>"s : status.error().detail; }

}  // namespace

TEST_CASE("names: valid prefixes are accepted, up to 24 characters", "[names]") {
  for (std::string_view prefix : {"a", "0", "ci", "build-farm-2", "0abc", "a--b", "x1y2z3"}) {
    INFO(prefix);
    CHECK(detail_of(validate_prefix(prefix)) == "<accepted>");
  }
  CHECK(detail_of(validate_prefix(std::string(24, 'a'))) == "<accepted>");
  CHECK(detail_of(validate_prefix("a" + std::string(22, '-') + "b")) == "<accepted>");
}

TEST_CASE("names: each invalid prefix is refused with its reason", "[names]") {
  CHECK(detail_of(validate_prefix("")) == "is empty");
  CHECK(detail_of(validate_prefix(std::string(25, 'a'))) == "is longer than 24 characters");
  CHECK(detail_of(validate_prefix(std::string(25, 'A'))) == "is longer than 24 characters");
  CHECK(detail_of(validate_prefix("-ci")) == "must start with a lower-case letter or digit");
  CHECK(detail_of(validate_prefix("-")) == "must start with a lower-case letter or digit");
  CHECK(detail_of(validate_prefix("Ci")) == "must start with a lower-case letter or digit");
  CHECK(detail_of(validate_prefix(".ci")) == "must start with a lower-case letter or digit");
  CHECK(detail_of(validate_prefix("ci-")) == "must not end with '-'");
  CHECK(detail_of(validate_prefix("c-")) == "must not end with '-'");
  for (std::string_view prefix : {"cI", "c_i", "c.i", "c i", "c/i", "ci\n", "c\ti", "caf\xc3\xa9"}) {
    INFO(prefix);
    CHECK(detail_of(validate_prefix(prefix)) == "may hold only a-z, 0-9 and '-'");
  }
  CHECK(detail_of(validate_prefix("c\0i"s)) == "may hold only a-z, 0-9 and '-'");
}

TEST_CASE("names: a refused prefix names the operation and the prefix, with code 0", "[names]") {
  Status status = validate_prefix("ab_c");
  REQUIRE_FALSE(status);
  CHECK(status.error().operation == "validate prefix");
  CHECK(status.error().target == "ab_c");
  CHECK(status.code() == 0);
  CHECK(status.error().message() == "validate prefix(ab_c): may hold only a-z, 0-9 and '-'");
}

TEST_CASE("names: session_name is the prefix, a dash and 16 lower-case hex digits", "[names]") {
  CHECK(session_name("ci", 0) == "ci-0000000000000000");
  CHECK(session_name("ci", 0xdeadbeef) == "ci-00000000deadbeef");
  CHECK(session_name("build-farm", 0x0123456789abcdefULL) == "build-farm-0123456789abcdef");
  CHECK(session_name("ci", UINT64_MAX) == "ci-ffffffffffffffff");
}

TEST_CASE("names: is_session_name recognises every name session_name makes", "[names]") {
  for (std::uint64_t nonce : std::initializer_list<std::uint64_t>{0, 1, 0xdeadbeef, 0x0123456789abcdef, 0xfedcba9876543210,
                                                                   UINT64_MAX}) {
    for (std::string_view prefix : {"a", "ci", "build-farm-2", "0"}) {
      std::string name = session_name(prefix, nonce);
      INFO(name);
      CHECK(is_session_name(prefix, name));
    }
  }
}

TEST_CASE("names: is_session_name refuses anything that merely resembles a session name", "[names]") {
  CHECK_FALSE(is_session_name("ci", ""));
  CHECK_FALSE(is_session_name("ci", "ci"));
  CHECK_FALSE(is_session_name("ci", "ci-"));
  CHECK_FALSE(is_session_name("ci", "ci-0123456789ABCDEF"));   // upper-case hex
  CHECK_FALSE(is_session_name("ci", "ci-0123456789abcdeg"));   // not hex
  CHECK_FALSE(is_session_name("ci", "ci-0123456789abcde"));    // 15 digits
  CHECK_FALSE(is_session_name("ci", "ci-0123456789abcdef0"));  // 17 digits
  CHECK_FALSE(is_session_name("ci", "ci_0123456789abcdef"));   // wrong separator
  CHECK_FALSE(is_session_name("ci", "cj-0123456789abcdef"));   // another prefix of the same length
  CHECK_FALSE(is_session_name("ci", "CI-0123456789abcdef"));
  CHECK_FALSE(is_session_name("ci", " ci-0123456789abcdef"));
  CHECK_FALSE(is_session_name("ci", "ci-0123456789abcdef\n"));
  CHECK_FALSE(is_session_name("ci", "ci-0123456789abcde\n"));
  CHECK_FALSE(is_session_name("ci", "ci-0123456789abcd f"));
  CHECK_FALSE(is_session_name("ci", "/ci-0123456789abcde"));
  CHECK_FALSE(is_session_name("ci", "ci-0x23456789abcdef"));
}

TEST_CASE("names: prefixes that extend one another never claim each other's sessions", "[names]") {
  CHECK_FALSE(is_session_name("a", session_name("a-b", 1)));
  CHECK_FALSE(is_session_name("a-b", session_name("a", 1)));
  // "ci-0000000000000000" is itself a valid prefix; its sessions are not ci's.
  REQUIRE(validate_prefix("ci-0000000000000000"));
  CHECK_FALSE(is_session_name("ci", session_name("ci-0000000000000000", 5)));
  CHECK_FALSE(is_session_name("ci-0000000000000000", session_name("ci", 5)));
}

TEST_CASE("names: valid absolute paths are accepted, up to 4095 bytes", "[names]") {
  for (std::string_view path : {"/a", "/run/snapcell", "/run/snapcell/ci-00000000deadbeef", "/a/...", "/a/.b",
                                "/a/b..", "/a/..b", "/with space/x", "/caf\xc3\xa9"}) {
    INFO(path);
    CHECK(detail_of(validate_absolute_path("run dir", path)) == "<accepted>");
  }
  std::string longest = "/" + std::string(4094, 'x');
  REQUIRE(longest.size() == 4095);
  CHECK(detail_of(validate_absolute_path("run dir", longest)) == "<accepted>");
}

TEST_CASE("names: each invalid absolute path is refused with its reason", "[names]") {
  auto reason = [](std::string_view path) { return detail_of(validate_absolute_path("run dir", path)); };
  CHECK(reason("") == "is empty");
  CHECK(reason("/" + std::string(4095, 'x')) == "is longer than PATH_MAX");
  CHECK(reason("run/snapcell") == "is not absolute");
  CHECK(reason("./run") == "is not absolute");
  CHECK(reason("~/run") == "is not absolute");
  CHECK(reason("/") == "is the root directory");
  CHECK(reason("/run/") == "ends with '/'");
  CHECK(reason("//") == "ends with '/'");
  CHECK(reason("/run/x\n") == "contains a control character");
  CHECK(reason("/run\t/x") == "contains a control character");
  CHECK(reason("/run/\x7f") == "contains a control character");
  CHECK(reason("/run/\x1b[31m") == "contains a control character");
  CHECK(reason("/run\0/x"s) == "contains a control character");
  CHECK(reason("//run") == "contains an empty component ('//')");
  CHECK(reason("/run//x") == "contains an empty component ('//')");
  CHECK(reason("/.") == "contains a '.' or '..' component");
  CHECK(reason("/..") == "contains a '.' or '..' component");
  CHECK(reason("/run/./x") == "contains a '.' or '..' component");
  CHECK(reason("/run/../etc") == "contains a '.' or '..' component");
  CHECK(reason("/run/.") == "contains a '.' or '..' component");
  CHECK(reason("/run/x/..") == "contains a '.' or '..' component");
}

TEST_CASE("names: a refused path names 'validate <what>' and the path, with code 0", "[names]") {
  Status status = validate_absolute_path("mount point", "/run/../x");
  REQUIRE_FALSE(status);
  CHECK(status.error().operation == "validate mount point");
  CHECK(status.error().target == "/run/../x");
  CHECK(status.code() == 0);
  CHECK(status.error().message() == "validate mount point(/run/../x): contains a '.' or '..' component");
}

TEST_CASE("names: parent_of drops the last component, and is '/' for a top-level path", "[names]") {
  CHECK(parent_of("/a") == "/");
  CHECK(parent_of("/run") == "/");
  CHECK(parent_of("/a/b") == "/a");
  CHECK(parent_of("/run/snapcell/ci-00000000deadbeef") == "/run/snapcell");
}

TEST_CASE("names: join_path puts exactly one slash between directory and leaf", "[names]") {
  CHECK(join_path("/run/snapcell", "ci-00000000deadbeef") == "/run/snapcell/ci-00000000deadbeef");
  CHECK(join_path("/a", "b") == "/a/b");
}

TEST_CASE("names: parent_of undoes join_path for a valid directory and leaf", "[names]") {
  for (std::string_view dir : {"/a", "/run/snapcell", "/var/lib/snapcell/run"}) {
    for (std::string_view leaf : {"x", "ci-00000000deadbeef", "with space"}) {
      std::string joined = join_path(dir, leaf);
      INFO(joined);
      CHECK(validate_absolute_path("mount point", joined));
      CHECK(parent_of(joined) == dir);
    }
  }
}
