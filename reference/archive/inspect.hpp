#pragma once
// Read-only inspection of the archives `snapcell build` handles: the sdist a
// user hands in (before it enters the chroot) and the wheels the build
// leaves (before they are copied out). Nothing is extracted: every member's
// header is checked with archive_paths.hpp and its data read through, only
// to count it against the caps and to prove the archive is not truncated.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "snapcell/archive_paths.hpp"
#include "snapcell/error.hpp"

namespace snapcell::archive {

struct SdistLimits {
  std::uint64_t max_members = 20'000;
  std::uint64_t max_total_bytes = 512ull << 20;   // uncompressed, all members
  std::uint64_t max_member_bytes = 256ull << 20;  // uncompressed, one member (as declared or as read)
  std::uint64_t max_ratio = 100;                  // uncompressed bytes per byte of archive ...
  std::uint64_t ratio_floor_bytes = 1ull << 20;   // ... once this much was uncompressed
};

struct SdistFacts {
  std::string project;  // as in the filename
  std::string version;
  ArchiveFormat format = ArchiveFormat::tar_gz;
  std::string top_dir;  // project-version
  std::uint64_t member_count = 0;
  std::uint64_t total_bytes = 0;  // uncompressed
  std::uint64_t archive_bytes = 0;
  bool has_pkg_info = false;  // top_dir/PKG-INFO is a member
};

struct WheelFacts {
  std::string project;  // as in the filename (escaped, e.g. demo_pkg)
  std::string version;
  std::string build_tag;  // empty when absent
  std::string python_tag;
  std::string abi_tag;
  std::string platform_tag;
  std::string dist_info;  // e.g. demo_pkg-1.0.dist-info
  std::uint64_t member_count = 0;
  std::uint64_t total_bytes = 0;
  std::uint64_t archive_bytes = 0;
};

// The sdist at `path`: its filename is NAME-VERSION.tar.gz|.tar|.zip, its
// content is of that format, every member passes the path and type checks
// under the one top directory NAME-VERSION/, and the caps hold. The first
// problem found ends the inspection; its Error names the archive, the member
// and the problem, on one line.
Result<SdistFacts> inspect_sdist(const std::filesystem::path& path, const SdistLimits& limits = {});

// The wheel at `path`: a zip named {name}-{ver}(-{build})?-{py}-{abi}-{plat}.whl
// whose name normalizes (PEP 503) to `expected_project`'s, with members that
// pass the same checks, and a {name}-{ver}.dist-info/METADATA.
Result<WheelFacts> inspect_wheel(const std::filesystem::path& path, std::string_view expected_project,
                                 const SdistLimits& limits = {});

// The file's SHA-256 as 64 lower-case hex digits (OpenSSL's libcrypto).
Result<std::string> sha256_file(const std::filesystem::path& path);

}  // namespace snapcell::archive
