// The archive checks of `snapcell build` (reference/archive) on real
// archives: every sample of the corpus (bad_sdists.cpp) is refused with a
// one-line message naming its problem, or accepted with the right facts;
// the caps come from SdistLimits; wheels are checked for their name, their
// members and their METADATA; sha256_file matches the FIPS 180-2 vectors.

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "archive/inspect.hpp"
#include "archives/archive_writer.hpp"
#include "archives/bad_sdists.hpp"

namespace fs = std::filesystem;
using snapcell::archive::inspect_sdist;
using snapcell::archive::inspect_wheel;
using snapcell::archive::SdistLimits;
using snapcell::testing::file;
using snapcell::testing::SdistSample;
using snapcell::testing::WriteEntry;
using snapcell::testing::WriteFormat;

namespace {

// A scratch directory of this test's own, removed however the test ends.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "snapcell-archive-test-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

const SdistSample& sample_named(const std::vector<SdistSample>& samples, const std::string& slug) {
  for (const auto& sample : samples)
    if (sample.slug == slug) return sample;
  FAIL("no sample " << slug);
  throw;
}

fs::path path_of(const ScratchDir& scratch, const SdistSample& sample) {
  return scratch.path() / sample.slug / sample.filename;
}

std::vector<WriteEntry> wheel_members(const std::string& dist_info) {
  return {file("demo_pure/__init__.py"),
          file(dist_info + "/METADATA", "Metadata-Version: 2.1\nName: demo_pure\nVersion: 1.0\n"),
          file(dist_info + "/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
          file(dist_info + "/RECORD", "")};
}

}  // namespace

TEST_CASE("archive corpus: every bad sdist is refused with one line naming its problem", "[archive]") {
  ScratchDir scratch;
  const auto samples = snapcell::testing::write_sdist_samples(scratch.path());
  std::size_t bad = 0;
  for (const auto& sample : samples) {
    if (sample.valid) continue;
    ++bad;
    INFO(sample.slug << ": " << sample.what);
    const auto facts = inspect_sdist(path_of(scratch, sample));
    REQUIRE_FALSE(facts);
    const std::string message = facts.error().message();
    INFO("message: " << message);
    CHECK(message.find(sample.expected) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
    CHECK(message.size() < 400);
  }
  CHECK(bad >= 20);
}

TEST_CASE("archive corpus: every good sdist is accepted with its facts", "[archive]") {
  ScratchDir scratch;
  const auto samples = snapcell::testing::write_sdist_samples(scratch.path());
  struct Expected {
    const char* slug;
    const char* project;
    const char* version;
    snapcell::ArchiveFormat format;
    std::uint64_t members;
  };
  for (const Expected& expected : {
           Expected{"good-tar-gz", "demo_pure", "1.0", snapcell::ArchiveFormat::tar_gz, 7},
           Expected{"good-zip", "demo_zip", "2.0", snapcell::ArchiveFormat::zip, 5},
           Expected{"good-tar-links", "demo_links", "3.0.1", snapcell::ArchiveFormat::tar, 9},
           Expected{"good-tar-links-up", "demo_uplinks", "1.2", snapcell::ArchiveFormat::tar_gz, 10},
       }) {
    INFO(expected.slug);
    const auto& sample = sample_named(samples, expected.slug);
    CHECK(sample.valid);
    const auto facts = inspect_sdist(path_of(scratch, sample));
    INFO((facts ? std::string("accepted") : facts.error().message()));
    REQUIRE(facts);
    CHECK(facts->project == expected.project);
    CHECK(facts->version == expected.version);
    CHECK(facts->format == expected.format);
    CHECK(facts->top_dir == std::string(expected.project) + "-" + expected.version);
    CHECK(facts->member_count == expected.members);
    CHECK(facts->has_pkg_info);
    CHECK(facts->total_bytes > 100);
    CHECK(facts->archive_bytes == fs::file_size(path_of(scratch, sample)));
  }
  std::size_t good = 0;
  for (const auto& sample : samples) good += sample.valid ? 1 : 0;
  CHECK(good == 4);
}

TEST_CASE("inspect_sdist: the caps come from SdistLimits", "[archive]") {
  ScratchDir scratch;
  const fs::path sdist = scratch.path() / "demo-1.0.tar.gz";
  WriteEntry big = file("demo-1.0/big.txt");
  big.zeros = 3 << 20;
  snapcell::testing::write_archive(sdist, WriteFormat::pax_tar_gz,
                                   {file("demo-1.0/PKG-INFO"), file("demo-1.0/setup.py"), big});
  SdistLimits no_ratio;
  no_ratio.max_ratio = 1u << 30;
  REQUIRE(inspect_sdist(sdist, no_ratio));

  SdistLimits few = no_ratio;
  few.max_members = 2;
  CHECK(inspect_sdist(sdist, few).error().message() == "inspect archive(demo-1.0.tar.gz): has more than 2 members (the cap)");
  SdistLimits small_member = no_ratio;
  small_member.max_member_bytes = 1 << 20;
  CHECK(inspect_sdist(sdist, small_member).error().message() ==
        "demo-1.0.tar.gz: archive member(demo-1.0/big.txt): is at least 3145728 bytes uncompressed, more than the cap of 1048576");
  SdistLimits small_total = no_ratio;
  small_total.max_total_bytes = 2 << 20;
  CHECK(inspect_sdist(sdist, small_total).error().detail == "expands to more than 2097152 bytes (the cap on all members)");
  CHECK(inspect_sdist(sdist).error().detail.ends_with("a compression bomb?"));
}

TEST_CASE("inspect_sdist: a missing file or a directory is refused naming it", "[archive]") {
  ScratchDir scratch;
  CHECK(inspect_sdist(scratch.path() / "demo-1.0.tar.gz").error().message() ==
        "open(" + (scratch.path() / "demo-1.0.tar.gz").string() + "): No such file or directory");
  fs::create_directory(scratch.path() / "dir-1.0.tar");
  CHECK(inspect_sdist(scratch.path() / "dir-1.0.tar").error().message() == "inspect archive(dir-1.0.tar): is not a regular file");
}

TEST_CASE("inspect_wheel: name, members and METADATA", "[archive]") {
  ScratchDir scratch;
  const fs::path wheel = scratch.path() / "demo_pure-1.0-py3-none-any.whl";
  snapcell::testing::write_archive(wheel, WriteFormat::zip, wheel_members("demo_pure-1.0.dist-info"));
  const auto facts = inspect_wheel(wheel, "Demo-Pure");
  INFO((facts ? std::string("accepted") : facts.error().message()));
  REQUIRE(facts);
  CHECK(facts->project == "demo_pure");
  CHECK(facts->version == "1.0");
  CHECK(facts->python_tag == "py3");
  CHECK(facts->abi_tag == "none");
  CHECK(facts->platform_tag == "any");
  CHECK(facts->build_tag.empty());
  CHECK(facts->dist_info == "demo_pure-1.0.dist-info");
  CHECK(facts->member_count == 4);

  CHECK(inspect_wheel(wheel, "other").error().message() ==
        "wheel filename(demo_pure-1.0-py3-none-any.whl): is for project 'demo_pure', not 'other'");

  const fs::path built = scratch.path() / "demo_pure-1.0-1-cp311-cp311-manylinux_2_17_x86_64.whl";
  snapcell::testing::write_archive(built, WriteFormat::zip, wheel_members("demo_pure-1.0.dist-info"));
  CHECK(inspect_wheel(built, "demo-pure")->build_tag == "1");

  const fs::path no_metadata = scratch.path() / "demo_pure-2.0-py3-none-any.whl";
  snapcell::testing::write_archive(no_metadata, WriteFormat::zip, wheel_members("demo_pure-1.0.dist-info"));
  CHECK(inspect_wheel(no_metadata, "demo_pure").error().detail == "has no demo_pure-2.0.dist-info/METADATA");

  const fs::path escaping = scratch.path() / "demo_pure-3.0-py3-none-any.whl";
  auto members = wheel_members("demo_pure-3.0.dist-info");
  members.push_back(file("../../etc/evil"));
  snapcell::testing::write_archive(escaping, WriteFormat::zip, members);
  CHECK(inspect_wheel(escaping, "demo_pure").error().message() ==
        "demo_pure-3.0-py3-none-any.whl: archive member(../../etc/evil): path has a '..' component");

  const fs::path tarball = scratch.path() / "demo_pure-4.0-py3-none-any.whl";
  snapcell::testing::write_archive(tarball, WriteFormat::pax_tar_gz, wheel_members("demo_pure-4.0.dist-info"));
  CHECK(inspect_wheel(tarball, "demo_pure").error().detail.starts_with("not a .zip archive"));

  for (const char* name : {"demo_pure-1.0-py3-none.whl", "demo_pure-1.0-x-py3-none-any.whl", "demo;x-1.0-py3-none-any.whl",
                           "demo_pure-1.0-py3-none-any.zip"}) {
    INFO(name);
    CHECK(inspect_wheel(scratch.path() / name, "demo_pure").error().operation == "wheel filename");
  }
}

TEST_CASE("sha256_file: the FIPS 180-2 vectors and a missing file", "[archive]") {
  ScratchDir scratch;
  const auto write = [&](const char* name, const std::string& bytes) {
    std::ofstream(scratch.path() / name, std::ios::binary) << bytes;
    return scratch.path() / name;
  };
  CHECK(snapcell::archive::sha256_file(write("abc", "abc")).value() ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(snapcell::archive::sha256_file(write("empty", "")).value() ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(snapcell::archive::sha256_file(write("million", std::string(1000000, 'a'))).value() ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  CHECK(snapcell::archive::sha256_file(scratch.path() / "missing").error().message() ==
        "open(" + (scratch.path() / "missing").string() + "): No such file or directory");
}
