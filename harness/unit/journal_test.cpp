// Unit tests of journal.hpp: the exact record format, the round trip, every
// way parse_plan refuses a record that does not read back exactly, and
// validate_plan refusing records whose names break the naming convention.

#include "snapcell/journal.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

using namespace std::string_literals;
using snapcell::parse_plan;
using snapcell::plan_for;
using snapcell::Result;
using snapcell::serialize_plan;
using snapcell::SessionPlan;
using snapcell::Status;
using snapcell::validate_plan;

namespace {

constexpr std::string_view kPrefix = "ci";
constexpr std::string_view kRunDir = "/run/snapcell";

SessionPlan sample_plan() {
  SessionPlan plan;
  plan.name = "ci-00000000deadbeef";
  plan.origin = "vg0/base-bookworm-amd64";
  plan.volume = "ci-00000000deadbeef";
  plan.mount_point = "/run/snapcell/ci-00000000deadbeef";
  plan.mount_source = "/dev/mapper/vg0-ci--00000000deadbeef";
  plan.volumes_kind = "lvm-thin";
  plan.supervisor_kind = "cgroup+pidns";
  plan.unit = "cgroup=/snapcell.slice/ci-00000000deadbeef pidns=4026532281 init=4242";
  return plan;
}

const std::string kSampleText =
    "snapcell-journal 1\n"
    "name ci-00000000deadbeef\n"
    "origin vg0/base-bookworm-amd64\n"
    "volume ci-00000000deadbeef\n"
    "mount_point /run/snapcell/ci-00000000deadbeef\n"
    "mount_source /dev/mapper/vg0-ci--00000000deadbeef\n"
    "volumes lvm-thin\n"
    "supervisor cgroup+pidns\n"
    "unit cgroup=/snapcell.slice/ci-00000000deadbeef pidns=4026532281 init=4242\n";

std::string parse_detail(std::string_view text) {
  auto result = parse_plan(text);
  return result ? "<accepted>"s : result.error().detail;
}

std::string validate_detail(const SessionPlan& plan) {
  Status status = validate_plan(plan, kPrefix, kRunDir);
  return status ? "<accepted>"s : status.error().detail;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start + 1));
    start = end + 1;
  }
  return lines;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line;
  return text;
}

}  // namespace

TEST_CASE("journal: serialize_plan writes the header and each key once, in order", "[journal]") {
  CHECK(serialize_plan(sample_plan()) == kSampleText);
}

TEST_CASE("journal: parse_plan reads back exactly what serialize_plan wrote", "[journal]") {
  auto parsed = parse_plan(serialize_plan(sample_plan()));
  REQUIRE(parsed);
  CHECK(*parsed == sample_plan());
  CHECK(parsed->unit == "cgroup=/snapcell.slice/ci-00000000deadbeef pidns=4026532281 init=4242");
  CHECK(serialize_plan(*parsed) == kSampleText);
}

TEST_CASE("journal: a fresh plan with empty mount source and unit round-trips", "[journal]") {
  SessionPlan plan = plan_for("ci-00000000deadbeef", "vg0/base", kRunDir, "lvm", "session");
  CHECK(plan.volume == "ci-00000000deadbeef");
  CHECK(plan.mount_point == "/run/snapcell/ci-00000000deadbeef");
  CHECK(plan.mount_source.empty());
  CHECK(plan.unit.empty());
  std::string text = serialize_plan(plan);
  CHECK(text ==
        "snapcell-journal 1\nname ci-00000000deadbeef\norigin vg0/base\nvolume ci-00000000deadbeef\n"
        "mount_point /run/snapcell/ci-00000000deadbeef\nmount_source \nvolumes lvm\nsupervisor session\nunit \n");
  auto parsed = parse_plan(text);
  REQUIRE(parsed);
  CHECK(*parsed == plan);
}

TEST_CASE("journal: values with inner, leading and trailing spaces round-trip unchanged", "[journal]") {
  SessionPlan plan = sample_plan();
  plan.origin = " leading and trailing ";
  plan.unit = "a  b   c";
  plan.supervisor_kind = "  ";
  auto parsed = parse_plan(serialize_plan(plan));
  REQUIRE(parsed);
  CHECK(*parsed == plan);
  CHECK(parsed->origin == " leading and trailing ");
  CHECK(parsed->supervisor_kind == "  ");
}

TEST_CASE("journal: parse_plan refuses a missing, unknown or altered header", "[journal]") {
  CHECK(parse_detail("") == "missing or unknown header");
  CHECK(parse_detail("snapcell-journal 1") == "missing or unknown header");
  CHECK(parse_detail("snapcell-journal 2\n" + kSampleText.substr(19)) == "missing or unknown header");
  CHECK(parse_detail("snapcell-journal 1 \n" + kSampleText.substr(19)) == "missing or unknown header");
  CHECK(parse_detail("snapcell-journal 1\r\n" + kSampleText.substr(19)) == "missing or unknown header");
  CHECK(parse_detail("\n" + kSampleText) == "missing or unknown header");
  CHECK(parse_detail(kSampleText.substr(19)) == "missing or unknown header");
}

TEST_CASE("journal: a refused record names the parse operation with code 0", "[journal]") {
  auto result = parse_plan("bogus\n");
  REQUIRE_FALSE(result);
  CHECK(result.error().operation == "parse journal record");
  CHECK(result.error().target.empty());
  CHECK(result.code() == 0);
  CHECK(result.error().message() == "parse journal record: missing or unknown header");
}

TEST_CASE("journal: parse_plan refuses a record with a missing key", "[journal]") {
  const char* keys[] = {"name", "origin", "volume", "mount_point", "mount_source", "volumes", "supervisor", "unit"};
  for (std::size_t missing = 0; missing < 7; ++missing) {
    auto lines = lines_of(kSampleText);
    lines.erase(lines.begin() + 1 + static_cast<long>(missing));
    INFO("without " << keys[missing]);
    // The line after the gap stands where the missing key was expected; the
    // last key leaves the record one line short.
    std::string expected = missing == 7 ? "truncated before 'unit'" : "expected '"s + keys[missing] + "'";
    CHECK(parse_detail(join_lines(lines)) == expected);
  }
}

TEST_CASE("journal: parse_plan refuses reordered keys", "[journal]") {
  auto lines = lines_of(kSampleText);
  std::swap(lines[2], lines[3]);  // volume before origin
  CHECK(parse_detail(join_lines(lines)) == "expected 'origin'");
  lines = lines_of(kSampleText);
  std::swap(lines[4], lines[5]);  // mount_source before mount_point
  CHECK(parse_detail(join_lines(lines)) == "expected 'mount_point'");
  lines = lines_of(kSampleText);
  std::swap(lines[7], lines[8]);  // unit before supervisor
  CHECK(parse_detail(join_lines(lines)) == "expected 'supervisor'");
}

TEST_CASE("journal: parse_plan refuses duplicated keys", "[journal]") {
  auto lines = lines_of(kSampleText);
  lines.insert(lines.begin() + 2, "name ci-0000000000000001\n");
  CHECK(parse_detail(join_lines(lines)) == "expected 'origin'");
  lines = lines_of(kSampleText);
  lines.insert(lines.begin() + 4, "volume ci-0000000000000001\n");
  CHECK(parse_detail(join_lines(lines)) == "expected 'mount_point'");
  // A duplicated last key is content after the record.
  CHECK(parse_detail(kSampleText + "unit other\n") == "trailing content");
}

TEST_CASE("journal: parse_plan refuses a record without its final newline", "[journal]") {
  std::string text = kSampleText;
  text.pop_back();
  CHECK(parse_detail(text) == "truncated before 'unit'");
}

TEST_CASE("journal: parse_plan refuses every truncation of a valid record", "[journal]") {
  for (std::size_t length = 0; length < kSampleText.size(); ++length) {
    INFO("first " << length << " bytes");
    auto result = parse_plan(std::string_view(kSampleText).substr(0, length));
    CHECK_FALSE(result);
  }
  CHECK(parse_detail(kSampleText.substr(0, 19)) == "truncated before 'name'");
  CHECK(parse_detail(lines_of(kSampleText)[0] + lines_of(kSampleText)[1]) == "truncated before 'origin'");
}

TEST_CASE("journal: parse_plan refuses content after the last key", "[journal]") {
  CHECK(parse_detail(kSampleText + "\n") == "trailing content");
  CHECK(parse_detail(kSampleText + "extra line\n") == "trailing content");
  CHECK(parse_detail(kSampleText + "x") == "trailing content");
  CHECK(parse_detail(kSampleText + kSampleText) == "trailing content");
}

TEST_CASE("journal: parse_plan refuses CR and NUL characters in values", "[journal]") {
  auto with_line = [](std::size_t index, const std::string& line) {
    auto lines = lines_of(kSampleText);
    lines[index] = line;
    return join_lines(lines);
  };
  CHECK(parse_detail(with_line(1, "name ci-00000000deadbeef\r\n")) == "'name' holds a control character");
  CHECK(parse_detail(with_line(2, "origin vg0/\rbase\n")) == "'origin' holds a control character");
  CHECK(parse_detail(with_line(8, "unit x\r\n")) == "'unit' holds a control character");
  CHECK(parse_detail(with_line(5, "mount_source /dev/x\0y\n"s)) == "'mount_source' holds a control character");
  // A record written with CRLF line ends fails at its header.
  std::string crlf;
  for (const auto& line : lines_of(kSampleText)) crlf += line.substr(0, line.size() - 1) + "\r\n";
  CHECK(parse_detail(crlf) == "missing or unknown header");
}

TEST_CASE("journal: parse_plan refuses keys that are misspelt, padded or glued to the value", "[journal]") {
  auto with_line = [](std::size_t index, const std::string& line) {
    auto lines = lines_of(kSampleText);
    lines[index] = line;
    return join_lines(lines);
  };
  CHECK(parse_detail(with_line(1, "name\n")) == "expected 'name'");
  CHECK(parse_detail(with_line(1, "nam ci-00000000deadbeef\n")) == "expected 'name'");
  CHECK(parse_detail(with_line(1, "names ci-00000000deadbeef\n")) == "expected 'name'");
  CHECK(parse_detail(with_line(1, "Name ci-00000000deadbeef\n")) == "expected 'name'");
  CHECK(parse_detail(with_line(1, " name ci-00000000deadbeef\n")) == "expected 'name'");
  CHECK(parse_detail(with_line(1, "name\tci-00000000deadbeef\n")) == "expected 'name'");
  CHECK(parse_detail(with_line(4, "mount_point/run/snapcell/x\n")) == "expected 'mount_point'");
  CHECK(parse_detail(with_line(4, "mount_point_x /run/snapcell/x\n")) == "expected 'mount_point'");
  CHECK(parse_detail(with_line(7, "supervisor_kind cgroup\n")) == "expected 'supervisor'");
  CHECK(parse_detail(with_line(4, "\n")) == "expected 'mount_point'");
}

TEST_CASE("journal: a field holding a newline does not read back, and validate_plan refuses it", "[journal]") {
  SessionPlan plan = sample_plan();
  plan.unit = "cgroup=/x\nforged line";
  CHECK(parse_detail(serialize_plan(plan)) == "trailing content");
  CHECK(validate_detail(plan) == "a field holds a line break");
}

TEST_CASE("journal: validate_plan accepts a plan that follows the naming convention", "[journal]") {
  CHECK(validate_detail(sample_plan()) == "<accepted>");
  CHECK(validate_detail(plan_for("ci-ffffffffffffffff", "vg0/base", kRunDir, "lvm", "session")) == "<accepted>");
  auto parsed = parse_plan(kSampleText);
  REQUIRE(parsed);
  CHECK(validate_detail(*parsed) == "<accepted>");
}

TEST_CASE("journal: validate_plan refuses a name that is not <prefix>-<16 hex>", "[journal]") {
  for (std::string name : {"ci-00000000DEADBEEF", "ci-deadbeef", "cd-00000000deadbeef", "other-00000000deadbeef",
                           "", "ci-00000000deadbeef/../x"}) {
    SessionPlan plan = sample_plan();
    plan.name = name;
    plan.volume = name;
    plan.mount_point = snapcell::join_path(kRunDir, name);
    INFO(name);
    CHECK(validate_detail(plan) == "name does not follow 'ci-<16 hex>'");
  }
  Status status = validate_plan(plan_for("x-0", "vg0/base", kRunDir, "lvm", "session"), kPrefix, kRunDir);
  REQUIRE_FALSE(status);
  CHECK(status.error().operation == "validate journal record");
  CHECK(status.error().target == "x-0");
  CHECK(status.code() == 0);
}

TEST_CASE("journal: validate_plan refuses a volume other than the session's own name", "[journal]") {
  for (std::string volume : {"ci-0000000000000001", "vg0/base-bookworm-amd64", "", "ci-00000000deadbeef ",
                             "/", "vg0/ci-00000000deadbeef"}) {
    SessionPlan plan = sample_plan();
    plan.volume = volume;
    INFO(volume);
    CHECK(validate_detail(plan) == "volume is not the session's name");
  }
}

TEST_CASE("journal: validate_plan refuses a mount point that is not run_dir/name", "[journal]") {
  for (std::string mount_point :
       {"/", "", "/run/snapcell", "/run/snapcell/ci-0000000000000001", "/run/snapcell/ci-00000000deadbeef/",
        "/run/snapcell/../snapcell/ci-00000000deadbeef", "/run/snapcell//ci-00000000deadbeef",
        "/home/ci-00000000deadbeef", "/run/snapcell/ci-00000000deadbeef/sub", "run/snapcell/ci-00000000deadbeef"}) {
    SessionPlan plan = sample_plan();
    plan.mount_point = mount_point;
    INFO(mount_point);
    CHECK(validate_detail(plan) == "mount point is not under the run dir");
  }
}

TEST_CASE("journal: validate_plan refuses an empty origin or one that is the session itself", "[journal]") {
  SessionPlan plan = sample_plan();
  plan.origin = "";
  CHECK(validate_detail(plan) == "origin is empty or the session itself");
  plan.origin = plan.name;
  CHECK(validate_detail(plan) == "origin is empty or the session itself");
}

TEST_CASE("journal: validate_plan refuses a line break in any free-form field", "[journal]") {
  for (std::string_view brk : {"\n", "\r"}) {
    for (int field = 0; field < 4; ++field) {
      SessionPlan plan = sample_plan();
      std::string* target[] = {&plan.origin, &plan.mount_source, &plan.supervisor_kind, &plan.unit};
      *target[field] += std::string(brk) + "x";
      INFO("field " << field << " break " << (brk == "\n" ? "LF" : "CR"));
      CHECK(validate_detail(plan) == "a field holds a line break");
    }
  }
}

TEST_CASE("journal: a forged record that parses is still refused by validate_plan", "[journal]") {
  auto with_line = [](std::size_t index, const std::string& line) {
    auto lines = lines_of(kSampleText);
    lines[index] = line;
    return join_lines(lines);
  };
  auto root = parse_plan(with_line(4, "mount_point /\n"));
  REQUIRE(root);
  CHECK(root->mount_point == "/");
  CHECK(validate_detail(*root) == "mount point is not under the run dir");

  auto other = parse_plan(with_line(3, "volume ci-0000000000000001\n"));
  REQUIRE(other);
  CHECK(validate_detail(*other) == "volume is not the session's name");

  auto other_mount = parse_plan(with_line(4, "mount_point /run/snapcell/ci-0000000000000001\n"));
  REQUIRE(other_mount);
  CHECK(validate_detail(*other_mount) == "mount point is not under the run dir");

  auto origin_is_self = parse_plan(with_line(2, "origin ci-00000000deadbeef\n"));
  REQUIRE(origin_is_self);
  CHECK(validate_detail(*origin_is_self) == "origin is empty or the session itself");
}

TEST_CASE("journal: validate_plan depends on the prefix and run dir it is given", "[journal]") {
  SessionPlan plan = sample_plan();
  CHECK(validate_plan(plan, "ci", "/run/snapcell"));
  Status other_prefix = validate_plan(plan, "cd", "/run/snapcell");
  REQUIRE_FALSE(other_prefix);
  CHECK(other_prefix.error().detail == "name does not follow 'cd-<16 hex>'");
  Status other_run_dir = validate_plan(plan, "ci", "/var/run/snapcell");
  REQUIRE_FALSE(other_run_dir);
  CHECK(other_run_dir.error().detail == "mount point is not under the run dir");
}
