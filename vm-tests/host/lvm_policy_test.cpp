// LvmVolumes' pieces that need no device-mapper, on the host (label unit),
// and the CLI's reading of `--backend lvm` bases (reference/cli/lvm_base.hpp):
// the lvs JSON reader on real lvs output captured in the guest
// (fuzz/corpus/lvm_report/) and on malformed text, lvm's name rule, and
// the command runner against a stand-in `lvm` script that records its argv,
// so that what would reach lvm (and what its failures turn into) is checked
// without lvm.

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "snapcell/linux/lvm_report.hpp"
#include "cli/lvm_base.hpp"
#include "snapcell/linux/lvm_volumes.hpp"

using snapcell::linux_sys::LvmConfig;
using snapcell::linux_sys::LvmOptions;
using snapcell::linux_sys::LvmSnapshotMode;
using snapcell::linux_sys::LvmVolumes;
using snapcell::linux_text::parse_lvs_report;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string corpus(const std::string& name) { return read_text(std::string(SNAPCELL_LVM_CORPUS) + "/" + name); }

// A stand-in for lvm: appends its argv (one per line, then "--") to a log,
// prints `stdout_text`, and fails with `stderr_text` when it is not empty.
struct FakeLvm {
  std::string dir;
  std::string program, log;
  FakeLvm(const std::string& stdout_text, const std::string& stderr_text) {
    char pattern[] = "/tmp/snapcell-fake-lvm-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    dir = pattern;
    program = dir + "/lvm";
    log = dir + "/argv";
    std::ofstream(dir + "/out") << stdout_text;
    std::ofstream(dir + "/err") << stderr_text;
    std::ofstream script(program);
    script << "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> " << log << "; done; echo -- >> " << log
           << "\ncat " << dir << "/out\nif [ -s " << dir << "/err ]; then cat " << dir << "/err >&2; exit 5; fi\n";
    script.close();
    ::chmod(program.c_str(), 0755);
  }
  ~FakeLvm() {
    for (auto leaf : {"/lvm", "/argv", "/out", "/err"}) ::unlink((dir + leaf).c_str());
    ::rmdir(dir.c_str());
  }
  LvmVolumes volumes(LvmSnapshotMode mode) const {
    LvmConfig config;
    config.volume_group = "vg0";
    config.mode = mode;
    config.classic_size = "16m";
    config.lvm = LvmOptions{program, ""};
    return LvmVolumes(config);
  }
};

}  // namespace

TEST_CASE("lvs JSON reader: real guest output, with origins, pools, an invalid snapshot and an inactive LV", "[lvm]") {
  auto mounted = parse_lvs_report(corpus("seed-classic-snapshot-invalidated"));
  REQUIRE(mounted);
  auto snapshot = std::find_if(mounted->begin(), mounted->end(), [](const auto& r) { return !r.origin.empty(); });
  REQUIRE(snapshot != mounted->end());
  CHECK(snapshot->origin == "base");
  CHECK(snapshot->invalid_snapshot());
  CHECK(snapshot->data_percent == 100.0);

  auto inactive = parse_lvs_report(corpus("seed-inactive-thin-snapshot"));
  REQUIRE(inactive);
  bool found = false;
  for (const auto& record : *inactive)
    if (record.lv_name == "inactive-thin-snapshot") {
      found = true;
      CHECK(record.pool_lv == "pool");
      CHECK_FALSE(record.active());
      CHECK_FALSE(record.kernel_major.has_value());
      CHECK_FALSE(record.data_percent.has_value());
    }
  CHECK(found);
}

TEST_CASE("lvs JSON reader refuses what is not lvs's shape, rather than listing part of it", "[lvm]") {
  for (const char* text : {
           "", "[]", "{}", "{\"report\": {}}", "{\"report\": [1]}", "{\"report\": [{\"lv\": {}}]}",
           "{\"report\": [{\"lv\": [{\"lv_name\": \"a\"}]}]}",                              // no vg_name
           "{\"report\": [{\"lv\": [{\"lv_name\": \"a\", \"vg_name\": 3}]}]}",              // not a string
           "{\"report\": [{\"lv\": [{\"lv_name\": \"a\", \"vg_name\": \"v\", \"lv_attr\": \"abc\"}]}]}",
           "{\"report\": [{\"lv\": [{\"lv_name\": \"a\", \"vg_name\": \"v\", \"data_percent\": \"101\"}]}]}",
           "{\"report\": [{\"lv\": [{\"lv_name\": \"a\", \"vg_name\": \"v\", \"data_percent\": \"nan\"}]}]}",
           "{\"report\": [{\"lv\": [{\"lv_name\": \"a\", \"vg_name\": \"v\", \"lv_kernel_major\": \"25x\"}]}]}",
           "{\"report\": [{\"lv\": [{\"lv_name\": \"a\", \"vg_name\": \"v\"}]}]} trailing",
       }) {
    INFO(text);
    CHECK_FALSE(parse_lvs_report(text));
  }
  CHECK(parse_lvs_report("{\"report\": [{\"lv\": []}]}")->empty());
}

TEST_CASE("lvm names: lvm's own character set, never an option", "[lvm]") {
  using snapcell::linux_sys::validate_lvm_name;
  CHECK(validate_lvm_name("origin", "base_1.x+y-z"));
  CHECK_FALSE(validate_lvm_name("origin", "-y"));
  CHECK_FALSE(validate_lvm_name("origin", ""));
  CHECK_FALSE(validate_lvm_name("origin", ".."));
  CHECK_FALSE(validate_lvm_name("origin", "vg/base"));
  CHECK_FALSE(validate_lvm_name("origin", "a b"));
  CHECK_THROWS(LvmVolumes(LvmConfig{"bad/vg", LvmSnapshotMode::classic, "1m", "ext4", {}}));
}

TEST_CASE("LvmVolumes: the argv lvm gets, in each mode", "[lvm]") {
  FakeLvm classic_lvm("", "");
  auto classic = classic_lvm.volumes(LvmSnapshotMode::classic);
  auto spec = classic.snapshot("base", "snapcell-0000000000000001");
  REQUIRE(spec);
  CHECK(spec->source == "/dev/vg0/snapcell-0000000000000001");
  CHECK(spec->fs_type == "ext4");
  CHECK(read_text(classic_lvm.log) == "lvcreate\n-s\n-L\n16m\n-n\nsnapcell-0000000000000001\nvg0/base\n--\n");

  FakeLvm thin_lvm("", "");
  auto thin = thin_lvm.volumes(LvmSnapshotMode::thin);
  REQUIRE(thin.snapshot("thinbase", "snapcell-0000000000000002"));
  CHECK(read_text(thin_lvm.log) == "lvcreate\n-s\n-K\n-n\nsnapcell-0000000000000002\nvg0/thinbase\n--\n");

  // Names that are not the convention's never reach lvm.
  CHECK_FALSE(classic.snapshot("base", "-n"));
  CHECK_FALSE(classic.snapshot("-y", "snapcell-0000000000000003"));
  CHECK(read_text(classic_lvm.log).find("snapcell-0000000000000003") == std::string::npos);
}

TEST_CASE("LvmVolumes: lvm's failure becomes an error with its message and an errno to act on", "[lvm]") {
  FakeLvm full("", "  Volume group \"vg0\" has insufficient free space (3 extents): 16 required.\n");
  auto volumes = full.volumes(LvmSnapshotMode::classic);
  auto spec = volumes.snapshot("base", "snapcell-0000000000000004");
  REQUIRE_FALSE(spec);
  CHECK(spec.code() == ENOSPC);
  CHECK(spec.error().operation == "lvm lvcreate");
  CHECK(spec.error().target == "vg0/snapcell-0000000000000004");
  CHECK(spec.error().detail == "Volume group \"vg0\" has insufficient free space (3 extents): 16 required.");
}

TEST_CASE("LvmVolumes: list keeps the convention's names of its own VG, with their origins", "[lvm]") {
  const std::string report = R"({"report": [{"lv": [
    {"vg_name":"vg0", "lv_name":"base", "origin":"", "lv_attr":"-wi-a-----"},
    {"vg_name":"vg0", "lv_name":"vmtest-0000000000000001", "origin":"base", "lv_attr":"swi-aos---"},
    {"vg_name":"vg0", "lv_name":"vmtest_Upper", "origin":"base", "lv_attr":"swi-a-s---"},
    {"vg_name":"vg1", "lv_name":"vmtest-0000000000000002", "origin":"base", "lv_attr":"swi-a-s---"}]}]})";
  FakeLvm listing(report, "");
  auto volumes = listing.volumes(LvmSnapshotMode::classic);
  auto listed = volumes.list("vmtest-");
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().name == "vmtest-0000000000000001");
  CHECK(listed->front().origin == "base");
  CHECK(read_text(listing.log).find("lvs\n--reportformat\njson\n-o\n") == 0);
  // Another VG's report (the guest's real one) lists nothing of vg0.
  FakeLvm other(corpus("seed-classic-snapshot-mounted"), "");
  auto none = other.volumes(LvmSnapshotMode::classic).list("vmtest-");
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("lvs JSON reader: lv_size in bytes, and nothing else passes for a size", "[lvm]") {
  auto sized = parse_lvs_report(R"({"report": [{"lv": [{"lv_name": "base", "vg_name": "vg0", "lv_size": "1073741824"}]}]})");
  REQUIRE(sized);
  REQUIRE(sized->size() == 1);
  CHECK(sized->front().size_bytes == 1073741824u);
  CHECK_FALSE(parse_lvs_report(R"({"report": [{"lv": [{"lv_name": "a", "vg_name": "v", "lv_size": "1.00g"}]}]})"));
  CHECK_FALSE(parse_lvs_report(R"({"report": [{"lv": [{"lv_name": "a", "vg_name": "v", "lv_size": "99999999999999999999"}]}]})"));
  CHECK_FALSE(parse_lvs_report(R"({"report": [{"lv": [{"lv_name": "base", "vg_name": "vg0"}]}]})")->front().size_bytes);
}

TEST_CASE("lvm backend of the CLI: the base is VG/LV and nothing else", "[lvm][cli]") {
  using snapcell::cli::parse_lvm_base;
  auto name = parse_lvm_base("vg0/bookworm");
  REQUIRE(name);
  CHECK(name->volume_group == "vg0");
  CHECK(name->origin == "bookworm");
  for (const char* bad : {"", "bookworm", "/dev/vg0/bookworm", "vg0/", "/vg0", "vg0/a/b", "-vg/a", "vg/-a", "vg/snapcell-1",
                          "./a", "vg/a b"}) {
    INFO(bad);
    CHECK_FALSE(parse_lvm_base(bad));
  }
}

TEST_CASE("lvm backend of the CLI: the origin's filesystem from its superblock, sizes as lvcreate takes them", "[lvm][cli]") {
  using snapcell::cli::filesystem_of_superblock;
  std::string head(0x10040 + 8, '\0');
  CHECK(filesystem_of_superblock(head).empty());
  std::string ext = head;
  ext[1080] = '\x53', ext[1081] = '\xEF';
  CHECK(filesystem_of_superblock(ext) == "ext4");
  std::string xfs = head;
  xfs.replace(0, 4, "XFSB");
  CHECK(filesystem_of_superblock(xfs) == "xfs");
  std::string btrfs = head;
  btrfs.replace(0x10040, 8, "_BHRfS_M");
  CHECK(filesystem_of_superblock(btrfs) == "btrfs");
  CHECK(filesystem_of_superblock(btrfs.substr(0, 0x10040 + 4)).empty());  // a device shorter than the magic

  using snapcell::cli::validate_lvm_size;
  for (const char* good : {"512m", "2g", "64", "1T", "4096k"}) CHECK(validate_lvm_size("--cow-size", good));
  for (const char* bad : {"", "0", "0m", "m", "1.5g", "10%ORIGIN", "-1m", "1 m", "9999999999999g"}) {
    INFO(bad);
    CHECK_FALSE(validate_lvm_size("--cow-size", bad));
  }
  using snapcell::cli::default_cow_size;
  CHECK(default_cow_size(0) == "32768k");                  // at least 32 MiB
  CHECK(default_cow_size(8ull << 30) == "2097152k");       // a quarter of an 8 GiB origin
}
