#pragma once
// The archive checks as a module the CLI loads only when it needs them.
//
// libarchive and libcrypto pull in 13 shared libraries (ICU and libxml2
// among them, through libarchive): linked into `snapcell`, loading them cost
// every command 2.5 ms of its start (3.7 against 1.2 ms for an empty
// program linked with and without them, `perf stat -r 50`), a quarter of a
// whole `snapcell run` turnaround. Only `snapcell build` reads archives, so
// the checks live in libsnapcell-archive.so next to the executable, and the
// CLI asks for this table (reference/cli/archive_module.hpp).

#include <filesystem>
#include <string>
#include <string_view>

#include "archive/inspect.hpp"

namespace snapcell::archive {

struct ModuleApi {
  Result<SdistFacts> (*inspect_sdist)(const std::filesystem::path& path, const SdistLimits& limits);
  Result<WheelFacts> (*inspect_wheel)(const std::filesystem::path& path, std::string_view expected_project,
                                      const SdistLimits& limits);
  Result<std::string> (*sha256_file)(const std::filesystem::path& path);
};

inline constexpr const char* module_file = "libsnapcell-archive.so";
inline constexpr const char* module_entry = "snapcell_archive_module_api";

}  // namespace snapcell::archive
