#include "archive/zip_raw_names.hpp"

#include <unistd.h>

#include <algorithm>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "snapcell/archive_paths.hpp"

namespace snapcell::archive {

namespace {

// Offsets and signatures from PKWARE's APPNOTE.TXT, sections 4.3.12 and 4.3.16.
constexpr std::string_view end_signature{"PK\x05\x06", 4};
constexpr std::string_view entry_signature{"PK\x01\x02", 4};
constexpr std::size_t end_record_bytes = 22;
constexpr std::size_t entry_fixed_bytes = 46;
constexpr std::uint64_t max_directory_bytes = 64u << 20;

std::uint32_t little(std::string_view bytes, std::size_t at, std::size_t width) {
  std::uint32_t value = 0;
  for (std::size_t i = width; i-- > 0;) value = value << 8 | static_cast<unsigned char>(bytes[at + i]);
  return value;
}

bool read_at(int fd, std::string& into, std::uint64_t offset, std::size_t size) {
  into.assign(size, '\0');
  std::size_t done = 0;
  while (done < size) {
    const ssize_t got = ::pread(fd, into.data() + done, size - done, static_cast<off_t>(offset + done));
    if (got <= 0) return false;
    done += static_cast<std::size_t>(got);
  }
  return true;
}

}  // namespace

Status check_zip_raw_names(int fd, std::uint64_t file_size, const std::string& shown_name) {
  auto fail = [&](std::string detail) {
    return Status{logic_error("inspect archive", archive_detail::shown(shown_name), std::move(detail))};
  };
  // The end record is the last 22 bytes plus a comment of up to 65535.
  const std::size_t tail_size = static_cast<std::size_t>(std::min<std::uint64_t>(file_size, end_record_bytes + 65535));
  std::string tail;
  if (!read_at(fd, tail, file_size - tail_size, tail_size)) return errno_error("pread", shown_name);
  const auto end = tail.size() < end_record_bytes ? std::string_view::npos
                                                  : tail.rfind(end_signature, tail.size() - end_record_bytes);
  if (end == std::string_view::npos) return fail("not a .zip archive: no end of central directory record");
  const std::uint32_t entries = little(tail, end + 10, 2);
  const std::uint32_t directory_size = little(tail, end + 12, 4);
  const std::uint32_t directory_offset = little(tail, end + 16, 4);
  if (entries == 0xffff || directory_size == 0xffffffff || directory_offset == 0xffffffff)
    return fail("is a ZIP64 archive (beyond the caps on members and sizes)");
  if (directory_size > max_directory_bytes || std::uint64_t{directory_offset} + directory_size > file_size)
    return fail("central directory out of bounds");

  std::string directory;
  if (!read_at(fd, directory, directory_offset, directory_size)) return errno_error("pread", shown_name);
  std::size_t at = 0;
  for (std::uint32_t index = 0; index < entries; ++index) {
    if (at + entry_fixed_bytes > directory.size() || directory.compare(at, 4, entry_signature) != 0)
      return fail(fmt::format("central directory entry {} is not where the end record says", index));
    const std::size_t name_size = little(directory, at + 28, 2);
    const std::size_t extra_size = little(directory, at + 30, 2);
    const std::size_t comment_size = little(directory, at + 32, 2);
    if (at + entry_fixed_bytes + name_size > directory.size())
      return fail(fmt::format("central directory entry {} is cut short", index));
    const std::string_view name = std::string_view(directory).substr(at + entry_fixed_bytes, name_size);
    // libarchive reads '\\' as '/' in names from DOS-made zips, Python's
    // zipfile on Linux as a plain character: refused, so both read the same.
    for (const auto& [byte, problem] : {std::pair{'\0', "path contains a NUL byte"},
                                        std::pair{'\\', "path contains a backslash"}})
      if (name.find(byte) != std::string_view::npos)
        return Status{logic_error(fmt::format("{}: archive member", archive_detail::shown(shown_name)),
                                  archive_detail::shown(name), problem)};
    at += entry_fixed_bytes + name_size + extra_size + comment_size;
  }
  return {};
}

}  // namespace snapcell::archive
