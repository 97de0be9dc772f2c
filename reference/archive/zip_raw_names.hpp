#pragma once
// The member names of a zip as bytes, read from its central directory
// without libarchive: libarchive (like Python's zipfile) cuts a name at its
// first NUL byte, so "pkg-1.0/a.py\0../../x" would reach the path checks as
// "pkg-1.0/a.py", and reads '\\' as '/' in a zip made on DOS. A name with a
// NUL or a backslash is refused here instead: nothing honest writes one.
// Internal to member_scan.cpp.

#include <cstdint>
#include <string>

#include "snapcell/error.hpp"

namespace snapcell::archive {

// Refuses, naming `shown_name`, a zip whose central directory cannot be
// found where its end record says, or that needs ZIP64 (beyond the caps of
// SdistLimits anyway), or has a member name with a NUL byte or a backslash.
Status check_zip_raw_names(int fd, std::uint64_t file_size, const std::string& shown_name);

}  // namespace snapcell::archive
