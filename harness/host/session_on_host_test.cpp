// Host integration (root): snapcell::Session and snapcell::reap driven end
// to end over the real policies (OverlayVolumes, SyscallMounter,
// DirectoryJournal), with a supervisor stub that spawns nothing: what is
// checked here is the life of the volume, the mount, the mount point and the
// record on the real kernel, and what is left afterwards (I2, I3, I6).

#include "host/support.hpp"
#include "snapcell/linux/directory_journal.hpp"
#include "snapcell/linux/overlay_volumes.hpp"
#include "snapcell/linux/syscall_mounter.hpp"
#include "snapcell/ownership.hpp"
#include "snapcell/reap.hpp"
#include "snapcell/session.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

using snapcell::BuildRequest;
using snapcell::Containment;
using snapcell::DeviceId;
using snapcell::MountSpec;
using snapcell::Millis;
using snapcell::Pid;
using snapcell::Report;
using snapcell::Result;
using snapcell::SessionConfig;
using snapcell::SpawnSpec;
using snapcell::Status;
using snapcell::UnmountMode;
using snapcell::WaitOutcome;
using snapcell::linux_sys::DirectoryJournal;
using snapcell::linux_sys::OverlayVolumes;
using snapcell::linux_sys::SyscallMounter;
using snapcell::testing::exists;
using snapcell::testing::make_dir;

namespace {

struct Scratch : snapcell::testing::Scratch {
  Scratch() : snapcell::testing::Scratch({.prefix = "snapcell-policies"}) {}
};

// ---- a supervisor that spawns nothing -----------------------------------------

struct StubUnit {
  std::string session;
  std::string serialize() const { return "stub " + session; }
  static Result<StubUnit> parse(const std::string& text) {
    if (text.rfind("stub ", 0) != 0) return snapcell::logic_error("parse unit", text, "not a stub unit");
    return StubUnit{text.substr(5)};
  }
  bool belongs_to(const std::string& name) const { return session == name; }
};

class StubSupervisor {
 public:
  using Unit = StubUnit;
  static constexpr Containment containment = Containment::full;
  static constexpr std::string_view kind = "stub";

  std::vector<std::string> calls;

  Unit unit_for(const std::string& session) { return StubUnit{session}; }
  Status spawn(Unit& unit, const SpawnSpec& spec) {
    calls.push_back("spawn " + unit.session + " in " + spec.root);
    return {};
  }
  Status launch(Unit& unit) {
    calls.push_back("launch " + unit.session);
    return {};
  }
  Result<WaitOutcome> wait(Unit& unit, Millis) {
    calls.push_back("wait " + unit.session);
    return WaitOutcome{false, 0};
  }
  Status kill_all(Unit& unit, Millis) {
    calls.push_back("kill_all " + unit.session);
    return {};
  }
  Result<std::vector<Pid>> survivors(Unit&) { return std::vector<Pid>{}; }
  Status signal_member(Unit& unit, Pid pid, int) {
    calls.push_back("signal_member " + unit.session + " " + std::to_string(pid));
    return snapcell::logic_error("signal", std::to_string(pid), "the stub has no members");
  }
  Status release(Unit& unit) {
    calls.push_back("release " + unit.session);
    return {};
  }
};

static_assert(snapcell::Supervisor<StubSupervisor>);

// The real mounter, with every call written down: what a teardown did not
// call, it cannot have done.
class RecordingMounter {
 public:
  std::vector<std::string> calls;

  Status make_dir(const std::string& path) { return note("make_dir", path), real_.make_dir(path); }
  Status remove_dir(const std::string& path) { return note("remove_dir", path), real_.remove_dir(path); }
  Status mount(const MountSpec& spec, const std::string& path) { return note("mount", path), real_.mount(spec, path); }
  Result<snapcell::PathFacts> facts(const std::string& path) { return note("facts", path), real_.facts(path); }
  Status unmount(const std::string& path, UnmountMode mode) { return note("unmount", path), real_.unmount(path, mode); }
  Result<std::vector<Pid>> holders(DeviceId device) {
    return note("holders", std::to_string(device)), real_.holders(device);
  }
  Result<std::vector<std::string>> list_dir(const std::string& path) {
    return note("list_dir", path), real_.list_dir(path);
  }

  bool called(std::string_view operation) const {
    return std::any_of(calls.begin(), calls.end(), [&](const std::string& call) { return call.rfind(operation, 0) == 0; });
  }

 private:
  void note(std::string_view operation, const std::string& target) { calls.push_back(std::string(operation) + " " + target); }
  SyscallMounter real_;
};

static_assert(snapcell::Mounter<RecordingMounter>);

using HostSession = snapcell::Session<OverlayVolumes, RecordingMounter, StubSupervisor, DirectoryJournal>;

constexpr const char* kPrefix = "hosttest";

// Where a session lives, and how to see what it left.
struct Site {
  explicit Site(const Scratch& scratch)
      : base(scratch / "base"), run_dir(scratch / "run"), volumes_dir(scratch / "volumes"),
        journal_dir(scratch / "journal") {
    make_dir(base);
    make_dir(base + "/etc");
    std::ofstream(base + "/etc/hostname") << "base\n";
    make_dir(run_dir, 0700);
  }

  SessionConfig config() const {
    SessionConfig config;
    config.prefix = kPrefix;
    config.run_dir = run_dir;
    config.grace = Millis{100};
    return config;
  }

  // Nothing of the session anywhere: no mount with its source, no mount
  // point, no volume, no record.
  void check_nothing_left(const std::string& name) const {
    auto mounts = snapcell::linux_sys::read_mountinfo();
    REQUIRE(mounts);
    for (const auto& entry : *mounts) {
      INFO(entry.mount_point);
      CHECK(entry.source != OverlayVolumes::source_of(name));
      CHECK(entry.mount_point.rfind(run_dir + "/", 0) != 0);
    }
    CHECK_FALSE(exists(run_dir + "/" + name));
    CHECK_FALSE(exists(volumes_dir + "/" + name));
    CHECK_FALSE(exists(journal_dir + "/" + name));
    OverlayVolumes volumes(volumes_dir);
    auto listed = volumes.list(std::string(kPrefix) + "-");
    REQUIRE(listed);
    CHECK(listed->empty());
  }

  std::string base, run_dir, volumes_dir, journal_dir;
};

BuildRequest request(const std::string& origin) {
  BuildRequest request;
  request.origin = origin;
  request.argv = {"/bin/true"};
  return request;
}

std::uint64_t nonce_seed() { return (static_cast<std::uint64_t>(::getpid()) << 32) ^ 0x5eed0000u; }

// The policies one snapcell process builds over a site: its own, fresh (the
// recorders start empty), in the order a controller builds them.
struct HostPolicies {
  explicit HostPolicies(const Site& site) : volumes(site.volumes_dir), journal(site.journal_dir) {}
  HostPolicies(const HostPolicies&) = delete;
  HostPolicies& operator=(const HostPolicies&) = delete;

  OverlayVolumes volumes;
  RecordingMounter mounter;
  StubSupervisor supervisor;
  DirectoryJournal journal;
};

// `snapcell run`: a session over policies of its own.
struct Controller : HostPolicies {
  explicit Controller(const Site& site)
      : HostPolicies(site), session(volumes, mounter, supervisor, journal, site.config(), [this] { return nonce++; }) {}

  std::uint64_t nonce = nonce_seed();
  HostSession session;
};

// `snapcell reap` over the site, with the given process's policies.
snapcell::ReapReport reap_site(const Site& site, HostPolicies& policies) {
  snapcell::ReapConfig config{kPrefix, site.run_dir, Millis{100}};
  return snapcell::reap(snapcell::Policies<OverlayVolumes, RecordingMounter, StubSupervisor>{
                            policies.volumes, policies.mounter, policies.supervisor},
                        policies.journal, config);
}

}  // namespace

TEST_CASE("host session: a whole session on overlayfs ends with no mount, dir, volume or record left", "[host]") {
  HOST_REQUIRE_ROOT();
  HOST_REQUIRE_FILESYSTEM("overlay");
  Scratch scratch;
  Site site(scratch);
  Controller controller(site);
  HostSession& session = controller.session;

  REQUIRE(session.begin(request(site.base)));
  const std::string name = session.name();
  CHECK(snapcell::is_session_name(kPrefix, name));
  CHECK(exists(site.journal_dir + "/" + name));
  REQUIRE(session.setup());
  // The session's mount, proven, with the base visible inside.
  const std::string mount_point = session.plan().mount_point;
  CHECK(session.plan().mount_source == OverlayVolumes::source_of(name));
  std::string line;
  {
    std::ifstream inside(mount_point + "/etc/hostname");  // closed again: an open file keeps the mount busy
    std::getline(inside, line);
  }
  CHECK(line == "base");
  REQUIRE(session.start());
  auto outcome = session.wait();
  REQUIRE(outcome);
  CHECK(outcome->exit_code == 0);
  Report report = session.teardown();
  INFO(snapcell::format_report(report));
  CHECK(report.clean());
  CHECK(report.errors.empty());
  CHECK(controller.supervisor.calls ==
        std::vector<std::string>{"spawn " + name + " in " + mount_point, "launch " + name, "wait " + name,
                                 "kill_all " + name, "release " + name});
  CHECK_FALSE(controller.mounter.called("holders"));  // the unmount was not busy
  site.check_nothing_left(name);
  std::ifstream base_file(site.base + "/etc/hostname");
  std::getline(base_file, line);
  CHECK(line == "base");
}

TEST_CASE("host session: a failed snapshot leaves a bare mount point that is refused as a mount and never unmounted",
          "[host]") {
  HOST_REQUIRE_ROOT();
  HOST_REQUIRE_FILESYSTEM("overlay");
  Scratch scratch;
  Site site(scratch);
  Controller controller(site);
  HostSession& session = controller.session;

  REQUIRE(session.begin(request(scratch / "no-such-base")));
  Status setup = session.setup();
  REQUIRE_FALSE(setup);
  CHECK(setup.code() == ENOENT);
  const std::string mount_point = session.plan().mount_point;
  REQUIRE(exists(mount_point));  // the bare directory of the seed

  SyscallMounter plain;
  auto facts = plain.facts(mount_point);
  REQUIRE(facts);
  auto proof = snapcell::decide_ownership(mount_point, *facts, OverlayVolumes::source_of(session.name()));
  REQUIRE_FALSE(proof);
  CHECK_THAT(proof.error().detail, Catch::Contains("is not a mount point"));

  Report report = session.teardown();
  INFO(snapcell::format_report(report));
  CHECK(report.clean());
  CHECK_FALSE(controller.mounter.called("unmount"));
  CHECK_FALSE(controller.mounter.called("holders"));
  CHECK_FALSE(controller.mounter.called("mount"));
  CHECK(controller.supervisor.calls.empty());
  site.check_nothing_left(session.name());
}

TEST_CASE("host session: reap cleans up after a controller that died right after setup", "[host]") {
  HOST_REQUIRE_ROOT();
  HOST_REQUIRE_FILESYSTEM("overlay");
  Scratch scratch;
  Site site(scratch);
  int pipe_fds[2];
  REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The controller: claims, snapshots, mounts, proves; then dies without
    // a teardown (no destructor runs after _exit), leaving it all to reap.
    ::close(pipe_fds[0]);
    auto say_and_die = [&](const std::string& said, int code) {
      (void)!::write(pipe_fds[1], said.data(), said.size());
      ::_exit(code);  // no destructor runs: the session is never torn down
    };
    try {
      Controller controller(site);
      HostSession& session = controller.session;
      Status begun = session.begin(request(site.base));
      Status set_up = begun ? session.setup() : begun;
      if (set_up) say_and_die(session.name(), 0);
      say_and_die("error " + set_up.error().message(), 1);
    } catch (const std::exception& e) {
      say_and_die(std::string("error ") + e.what(), 1);
    }
  }
  ::close(pipe_fds[1]);
  std::string said;
  char buffer[512];
  ssize_t n;
  while ((n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0) said.append(buffer, static_cast<std::size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  INFO(said);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  const std::string name = said;
  REQUIRE(snapcell::is_session_name(kPrefix, name));

  // What the dead controller left: its mount, mount point, volume, record.
  const std::string mount_point = site.run_dir + "/" + name;
  SyscallMounter probe;
  auto facts = probe.facts(mount_point);
  REQUIRE(facts);
  REQUIRE(snapcell::decide_ownership(mount_point, *facts, OverlayVolumes::source_of(name)));
  REQUIRE(exists(site.journal_dir + "/" + name));

  HostPolicies reaper(site);
  auto reaped = reap_site(site, reaper);
  REQUIRE(reaped.sessions.size() == 1);
  INFO(snapcell::format_report(reaped.sessions.front()));
  CHECK(reaped.clean());
  CHECK(reaped.live.empty());
  CHECK(reaped.sessions.front().session == name);
  site.check_nothing_left(name);
}

TEST_CASE("host session: reap leaves a live session's record, mount and volume alone", "[host]") {
  HOST_REQUIRE_ROOT();
  HOST_REQUIRE_FILESYSTEM("overlay");
  Scratch scratch;
  Site site(scratch);
  Controller controller(site);
  HostSession& session = controller.session;
  REQUIRE(session.begin(request(site.base)));
  REQUIRE(session.setup());
  const std::string name = session.name();

  HostPolicies reaper(site);
  auto reaped = reap_site(site, reaper);
  CHECK(reaped.sessions.empty());
  CHECK(reaped.live == std::vector<std::string>{name});
  CHECK(reaped.errors.empty());
  CHECK_FALSE(reaper.mounter.called("unmount"));
  CHECK_FALSE(reaper.mounter.called("remove_dir"));
  auto facts = reaper.mounter.facts(session.plan().mount_point);
  REQUIRE(facts);
  CHECK(snapcell::decide_ownership(session.plan().mount_point, *facts, session.plan().mount_source));

  Report report = session.teardown();
  INFO(snapcell::format_report(report));
  CHECK(report.clean());
  site.check_nothing_left(name);
}
