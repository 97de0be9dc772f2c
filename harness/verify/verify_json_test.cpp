// `snapcell verify --json` read back with nlohmann-json: the schema
// snapcell.verify/1 as docs/verify.md documents it, and a
// report that agrees with itself and with the exit code. Two techniques
// under the session supervisor: one it contains (well_behaved) and one it
// leaks by design (setsid_escape), so both verdicts are read back.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace {

struct Ran {
  int status = -1;
  std::string out;
};

Ran run(const std::string& command) {
  Ran ran;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) ran.out.append(buffer, n);
  const int status = ::pclose(pipe);
  ran.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return ran;
}

}  // namespace

TEST_CASE("verify --json: schema snapcell.verify/1, one entry per technique, verdicts agree with the exit code") {
  if (::geteuid() != 0) {
    WARN("SKIPPED: not root");
    return;
  }
  const char* cli = std::getenv("SNAPCELL_CLI");
  REQUIRE(cli != nullptr);
  const Ran ran = run(std::string(cli) + " verify --json --supervisor session --only well_behaved setsid_escape");
  INFO(ran.out);
  const auto json = nlohmann::json::parse(ran.out);

  CHECK(json.at("schema") == "snapcell.verify/1");
  CHECK(json.at("backend") == "overlay");
  CHECK(json.at("supervisor") == "session");
  CHECK(json.at("limits").at("max_processes").get<int>() > 0);
  CHECK(json.at("limits").at("max_memory_bytes").get<std::uint64_t>() > 0);
  CHECK(json.at("limits").at("max_disk_bytes").get<std::uint64_t>() > 0);
  CHECK(json.at("limits").at("deadline_ms").get<double>() > 0);

  const auto& techniques = json.at("techniques");
  REQUIRE(techniques.size() == 2);
  CHECK(techniques[0].at("technique") == "setsid_escape");
  CHECK(techniques[0].at("verdict") == "leaked");
  REQUIRE(!techniques[0].at("leaks").empty());
  CHECK(techniques[0].at("leaks")[0].get<std::string>().find("process(es) left") != std::string::npos);
  CHECK(techniques[0].at("collateral").empty());
  CHECK(techniques[1].at("technique") == "well_behaved");
  CHECK(techniques[1].at("verdict") == "contained");
  CHECK(techniques[1].at("leaks").empty());
  for (const auto& technique : techniques) {
    CHECK(technique.at("ms").get<double>() > 0);
    CHECK(technique.at("session").get<std::string>().rfind("snapcell-", 0) == 0);
    CHECK(technique.at("why").is_string());
    CHECK(technique.at("session_errors").is_array());
  }
  CHECK(json.at("counts").at("contained") == 1);
  CHECK(json.at("counts").at("leaked") == 1);
  CHECK(json.at("counts").at("collateral") == 0);
  CHECK(json.at("counts").at("not_applicable") == 0);
  CHECK(json.at("counts").at("error") == 0);
  CHECK(json.at("ok") == false);
  CHECK(ran.status == 1);
}
