#include "archive/member_scan.hpp"

#include "archive/zip_raw_names.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <locale.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <optional>
#include <string_view>

#include <fmt/format.h>

namespace snapcell::archive {

namespace {

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveFree>;

// libarchive converts the UTF-8 names of zips and pax headers to the
// current locale's charset, and in the C locale of a plain process it
// cannot: the name is dropped. Judging names needs them as UTF-8 bytes, so
// the scan runs in C.UTF-8 for this thread only (uselocale), leaving the
// process's locale alone.
class ThreadUtf8Locale {
 public:
  ThreadUtf8Locale() : utf8_(::newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr))) {
    if (utf8_ != static_cast<locale_t>(nullptr)) previous_ = ::uselocale(utf8_);
  }
  ~ThreadUtf8Locale() {
    if (utf8_ == static_cast<locale_t>(nullptr)) return;
    ::uselocale(previous_);
    ::freelocale(utf8_);
  }
  ThreadUtf8Locale(const ThreadUtf8Locale&) = delete;
  ThreadUtf8Locale& operator=(const ThreadUtf8Locale&) = delete;

 private:
  locale_t utf8_;
  locale_t previous_ = static_cast<locale_t>(nullptr);
};

struct FdClose {
  int fd;
  ~FdClose() {
    if (fd >= 0) ::close(fd);
  }
};


// A name as stored when libarchive has it so (a tar's bytes), else as UTF-8
// (a zip's or a pax header's name, which the C locale of this process cannot
// hold): either way the checks judge bytes, and reject what is not UTF-8.
// Nothing when it is in neither form.
std::optional<std::string> readable(const char* as_stored, const char* as_utf8) {
  if (as_stored != nullptr) return std::string(as_stored);
  if (as_utf8 != nullptr) return std::string(as_utf8);
  return std::nullopt;
}

// Any form counts: a hardlink whose name does not convert to the locale
// must not pass for a regular file.
bool is_hardlink(struct archive_entry* entry) {
  return archive_entry_hardlink(entry) != nullptr || archive_entry_hardlink_utf8(entry) != nullptr ||
         archive_entry_hardlink_w(entry) != nullptr;
}

MemberKind kind_of(struct archive_entry* entry) {
  if (is_hardlink(entry)) return MemberKind::hardlink;
  switch (archive_entry_filetype(entry)) {
    case AE_IFREG: return MemberKind::regular;
    case AE_IFDIR: return MemberKind::directory;
    case AE_IFLNK: return MemberKind::symlink;
    case AE_IFCHR: return MemberKind::char_device;
    case AE_IFBLK: return MemberKind::block_device;
    case AE_IFIFO: return MemberKind::fifo;
    case AE_IFSOCK: return MemberKind::socket;
    default: return MemberKind::unknown;
  }
}

// Each format is read by its own reader only: a .tar.gz that is really a zip
// (or plain text) is refused, not read by whichever reader bids for it. A zip
// is read from its central directory, the table that Python's zipfile (pip)
// uses, rather than from the local headers a streaming reader would trust.
void enable_format(struct archive* a, ArchiveFormat format) {
  switch (format) {
    case ArchiveFormat::tar: archive_read_support_format_tar(a); break;
    case ArchiveFormat::tar_gz:
      archive_read_support_filter_gzip(a);
      archive_read_support_format_tar(a);
      break;
    case ArchiveFormat::zip: archive_read_support_format_zip_seekable(a); break;
  }
}

class Scan {
 public:
  Scan(const std::string& shown_name, const SdistLimits& limits) : shown_name_(shown_name), limits_(limits) {}

  Error fail(std::string detail) const { return logic_error("inspect archive", shown_name_, std::move(detail)); }
  Error libarchive_fail(struct archive* a, std::string_view step) const {
    const char* text = archive_error_string(a);
    return fail(fmt::format("{}: {}", step, archive_detail::shown(text ? text : "unknown libarchive error")));
  }
  Error with_archive(Error error) const {
    error.operation = fmt::format("{}: {}", archive_detail::shown(shown_name_), error.operation);
    return error;
  }

  // Counts `bytes` more of the member at `member_path`, whose size so far is
  // `member_bytes`; the first cap broken, if any.
  std::optional<Error> count(std::string_view member_path, std::uint64_t member_bytes_before,
                             std::uint64_t member_bytes_after) {
    totals.total_bytes += member_bytes_after - member_bytes_before;
    if (member_bytes_after > limits_.max_member_bytes)
      return with_archive(archive_detail::member_error(
          member_path, fmt::format("is at least {} bytes uncompressed, more than the cap of {}", member_bytes_after,
                                   limits_.max_member_bytes)));
    if (totals.total_bytes > limits_.max_total_bytes)
      return fail(fmt::format("expands to more than {} bytes (the cap on all members)", limits_.max_total_bytes));
    if (totals.total_bytes > limits_.ratio_floor_bytes &&
        totals.total_bytes / limits_.max_ratio > totals.archive_bytes)
      return fail(fmt::format("expands more than {} times ({} bytes from {}): a compression bomb?", limits_.max_ratio,
                              totals.total_bytes, totals.archive_bytes));
    return std::nullopt;
  }

  ScanTotals totals;

 private:
  const std::string& shown_name_;
  const SdistLimits& limits_;
};

}  // namespace

Result<ScanTotals> scan_members(const std::filesystem::path& path, const std::string& shown_name,
                                ArchiveFormat format, const SdistLimits& limits, MemberTree& tree,
                                const std::function<void(const std::string&)>& accepted) {
  Scan scan(shown_name, limits);
  // O_NONBLOCK: a fifo given as the archive must not hang the open.
  FdClose file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};
  if (file.fd < 0) return errno_error("open", path.string());
  struct stat facts {};
  if (::fstat(file.fd, &facts) != 0) return errno_error("fstat", path.string());
  if (!S_ISREG(facts.st_mode)) return scan.fail("is not a regular file");
  if (facts.st_size == 0) return scan.fail("is empty (0 bytes)");
  scan.totals.archive_bytes = static_cast<std::uint64_t>(facts.st_size);

  if (format == ArchiveFormat::zip) {
    if (auto names = check_zip_raw_names(file.fd, scan.totals.archive_bytes, shown_name); !names) return names.error();
  }

  const ThreadUtf8Locale utf8_names;  // before the reader, which picks its charset when created
  ArchivePtr reader(archive_read_new());
  if (!reader) return scan.fail("archive_read_new failed");
  struct archive* a = reader.get();
  enable_format(a, format);
  if (archive_read_open_fd(a, file.fd, 64 * 1024) != ARCHIVE_OK)
    return scan.libarchive_fail(a, fmt::format("not a {} archive", archive_format_suffix(format)));

  for (;;) {
    struct archive_entry* entry = nullptr;
    const int status = archive_read_next_header(a, &entry);
    if (status == ARCHIVE_EOF) break;
    // ARCHIVE_WARN (an unknown pax keyword, a name not convertible to the
    // locale) still gives the header's bytes, which the checks then judge.
    if (status < ARCHIVE_WARN) {
      if (scan.totals.member_count == 0)
        return scan.libarchive_fail(a, fmt::format("not a {} archive", archive_format_suffix(format)));
      return scan.libarchive_fail(a, "reading a member header");
    }
    if (scan.totals.member_count == 0) {
      // The gzip filter is tried, not required: a plain tar named .tar.gz
      // would be read as one. The name must say what the bytes are.
      const int filter = archive_filter_code(a, 0);
      if (format == ArchiveFormat::tar_gz && filter != ARCHIVE_FILTER_GZIP)
        return scan.fail("is named .tar.gz but is not gzip-compressed");
    }
    if (++scan.totals.member_count > limits.max_members)
      return scan.fail(fmt::format("has more than {} members (the cap)", limits.max_members));

    ArchiveMember member;
    member.kind = kind_of(entry);
    const auto path = readable(archive_entry_pathname(entry), archive_entry_pathname_utf8(entry));
    if (!path) return scan.fail(fmt::format("member {} has a name in no readable encoding", scan.totals.member_count));
    member.path = *path;
    std::optional<std::string> target = std::string();
    if (member.kind == MemberKind::hardlink)
      target = readable(archive_entry_hardlink(entry), archive_entry_hardlink_utf8(entry));
    if (member.kind == MemberKind::symlink)
      target = readable(archive_entry_symlink(entry), archive_entry_symlink_utf8(entry));
    if (!target)
      return scan.with_archive(archive_detail::member_error(member.path, "has a link target in no readable encoding"));
    member.link_target = *target;
    if (auto added = tree.add(member); !added) return scan.with_archive(added.error());

    // Sizes: the declared one first (a sparse member may declare a terabyte
    // and hold nothing), then what the data really is.
    std::uint64_t member_bytes = 0;
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0) {
      member_bytes = static_cast<std::uint64_t>(archive_entry_size(entry));
      if (auto broken = scan.count(member.path, 0, member_bytes)) return *broken;
    }
    for (;;) {
      const void* block = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      const int read = archive_read_data_block(a, &block, &size, &offset);
      if (read == ARCHIVE_EOF) break;
      if (read < ARCHIVE_WARN)
        return scan.libarchive_fail(a, fmt::format("reading member '{}'", archive_detail::shown(member.path)));
      const std::uint64_t end = static_cast<std::uint64_t>(offset) + size;
      if (end > member_bytes) {
        if (auto broken = scan.count(member.path, member_bytes, end)) return *broken;
        member_bytes = end;
      }
    }
    accepted(normalized_member_path(member.path, member.kind).value());
  }
  if (scan.totals.member_count == 0) return scan.fail("contains no members");
  if (Status whole = tree.finish(); !whole) return scan.with_archive(whole.error());
  return scan.totals;
}

}  // namespace snapcell::archive
