// Unit tests of error.hpp: the "op(target): strerror: detail" message, Status,
// Result<T> and their throwing forms.

#include "snapcell/error.hpp"

#include <cerrno>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

using snapcell::Error;
using snapcell::errno_error;
using snapcell::Failure;
using snapcell::logic_error;
using snapcell::Result;
using snapcell::Status;

TEST_CASE("error: message is op(target) alone when there is neither errno nor detail", "[error]") {
  CHECK(Error{"snapshot", "vg0/base", 0, ""}.message() == "snapshot(vg0/base)");
  CHECK(Error{"reap", "", 0, ""}.message() == "reap");
}

TEST_CASE("error: message appends the strerror text of a non-zero errno", "[error]") {
  CHECK(Error{"umount2", "/run/snapcell/ci-00000000deadbeef", ENOENT, ""}.message() ==
        "umount2(/run/snapcell/ci-00000000deadbeef): No such file or directory");
  CHECK(Error{"mkdir", "/run/x", EEXIST, ""}.message() == "mkdir(/run/x): File exists");
}

TEST_CASE("error: message appends the detail after the errno text, or alone when errno is 0", "[error]") {
  CHECK(Error{"umount2", "/run/x", EBUSY, "held by 3 processes"}.message() ==
        "umount2(/run/x): Device or resource busy: held by 3 processes");
  CHECK(Error{"validate prefix", "Ab", 0, "must start with a lower-case letter or digit"}.message() ==
        "validate prefix(Ab): must start with a lower-case letter or digit");
}

TEST_CASE("error: errno_error records the errno given, or the current errno by default", "[error]") {
  Error given = errno_error("pidfd_open", "4242", ESRCH);
  CHECK(given.operation == "pidfd_open");
  CHECK(given.target == "4242");
  CHECK(given.code == ESRCH);
  CHECK(given.detail.empty());

  errno = EACCES;
  Error current = errno_error("open", "/etc/shadow");
  CHECK(current.code == EACCES);
  CHECK(current.message() == "open(/etc/shadow): Permission denied");
}

TEST_CASE("error: logic_error has code 0 and carries its detail", "[error]") {
  Error error = logic_error("parse journal record", "", "trailing content");
  CHECK(error.operation == "parse journal record");
  CHECK(error.target.empty());
  CHECK(error.code == 0);
  CHECK(error.detail == "trailing content");
  CHECK(error.message() == "parse journal record: trailing content");
}

TEST_CASE("error: Failure carries the Error and its message as what()", "[error]") {
  Failure failure(errno_error("rmdir", "/run/x", ENOTEMPTY));
  CHECK(std::string(failure.what()) == "rmdir(/run/x): Directory not empty");
  CHECK(failure.error().operation == "rmdir");
  CHECK(failure.error().target == "/run/x");
  CHECK(failure.error().code == ENOTEMPTY);
}

TEST_CASE("error: a default Status and Status::ok are success with code 0 and do not throw", "[error]") {
  Status status;
  CHECK(status.is_ok());
  CHECK(static_cast<bool>(status));
  CHECK(status.code() == 0);
  CHECK_NOTHROW(status.or_throw());
  Status ok = Status::ok();
  CHECK(ok.is_ok());
  CHECK(ok.code() == 0);
}

TEST_CASE("error: a Status made from an Error is a failure that keeps the Error and throws it", "[error]") {
  Status status = errno_error("umount2", "/run/x", EBUSY);
  CHECK_FALSE(status.is_ok());
  CHECK_FALSE(static_cast<bool>(status));
  CHECK(status.code() == EBUSY);
  CHECK(status.error().message() == "umount2(/run/x): Device or resource busy");
  try {
    status.or_throw();
    FAIL("or_throw did not throw");
  } catch (const Failure& failure) {
    CHECK(failure.error().code == EBUSY);
    CHECK(std::string(failure.what()) == "umount2(/run/x): Device or resource busy");
  }
}

TEST_CASE("error: a Status made from a logic error is a failure even though its code is 0", "[error]") {
  Status status = logic_error("prove own mount", "/run/x", "mountinfo lists no mount at this path");
  CHECK_FALSE(status.is_ok());
  CHECK(status.code() == 0);
  CHECK(status.error().detail == "mountinfo lists no mount at this path");
  CHECK_THROWS_AS(status.or_throw(), Failure);
}

TEST_CASE("error: a Result holding a value gives it by value, *, -> and or_throw", "[error]") {
  struct Point {
    int x = 0;
    int y = 0;
  };
  Result<Point> result = Point{3, 4};
  CHECK(result.is_ok());
  CHECK(static_cast<bool>(result));
  CHECK(result.code() == 0);
  CHECK(result.value().x == 3);
  CHECK((*result).y == 4);
  CHECK(result->x == 3);
  result->x = 7;
  CHECK(result.value().x == 7);
  const Result<Point>& view = result;
  CHECK(view->y == 4);
  CHECK((*view).x == 7);
  CHECK(view.status().is_ok());
  Point moved = std::move(result).or_throw();
  CHECK(moved.x == 7);
  CHECK(moved.y == 4);
}

TEST_CASE("error: a Result of a move-only value hands it out through the rvalue forms", "[error]") {
  Result<std::unique_ptr<int>> first = std::make_unique<int>(42);
  std::unique_ptr<int> taken = std::move(first).value();
  REQUIRE(taken);
  CHECK(*taken == 42);

  Result<std::unique_ptr<int>> second = std::make_unique<int>(7);
  std::unique_ptr<int> thrown_form = std::move(second).or_throw();
  REQUIRE(thrown_form);
  CHECK(*thrown_form == 7);
}

TEST_CASE("error: a Result holding an Error reports it, converts to a failed Status and throws it", "[error]") {
  Result<std::string> result = errno_error("read", "/var/lib/snapcell/ci-x", EIO);
  CHECK_FALSE(result.is_ok());
  CHECK_FALSE(static_cast<bool>(result));
  CHECK(result.code() == EIO);
  CHECK(result.error().message() == "read(/var/lib/snapcell/ci-x): Input/output error");
  Status status = result.status();
  CHECK_FALSE(status.is_ok());
  CHECK(status.code() == EIO);
  CHECK(status.error().target == "/var/lib/snapcell/ci-x");
  CHECK_THROWS_WITH(std::move(result).or_throw(), "read(/var/lib/snapcell/ci-x): Input/output error");
}

TEST_CASE("error: a Result holding a logic error has code 0 but is not ok", "[error]") {
  Result<int> result = logic_error("validate journal record", "ci-1", "volume is not the session's name");
  CHECK_FALSE(result.is_ok());
  CHECK(result.code() == 0);
  CHECK_FALSE(result.status().is_ok());
  CHECK(result.status().error().detail == "volume is not the session's name");
}
