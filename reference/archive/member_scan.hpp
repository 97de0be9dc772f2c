#pragma once
// One pass over an archive with libarchive, read-only: each member's header
// becomes an ArchiveMember for a MemberTree, and its data is read through
// (not kept) so that sizes are counted as they really are, not as headers
// claim, and a truncated or corrupt stream is found. Internal to the
// inspectors (sdist_inspect.cpp, wheel_inspect.cpp).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "archive/inspect.hpp"
#include "snapcell/archive_paths.hpp"
#include "snapcell/error.hpp"

namespace snapcell::archive {

struct ScanTotals {
  std::uint64_t member_count = 0;
  std::uint64_t total_bytes = 0;
  std::uint64_t archive_bytes = 0;
};

// Errors name `shown_name` (the archive as the user gave it) in their
// operation. `accepted` sees each member after the tree took it.
Result<ScanTotals> scan_members(const std::filesystem::path& path, const std::string& shown_name,
                                ArchiveFormat format, const SdistLimits& limits, MemberTree& tree,
                                const std::function<void(const std::string& normalized_path)>& accepted);

}  // namespace snapcell::archive
