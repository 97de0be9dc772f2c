#include "archives/archive_writer.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

namespace snapcell::testing {

namespace {

struct WriterFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};

void check(struct archive* a, int status, const std::string& what) {
  if (status < ARCHIVE_WARN) {
    const char* text = archive_error_string(a);
    throw std::runtime_error(fmt::format("{}: {}", what, text ? text : "libarchive error"));
  }
}

void write_content(struct archive* a, const WriteEntry& entry) {
  if (entry.zeros > 0) {
    const std::string block(1 << 16, '\0');
    for (std::uint64_t left = entry.zeros; left > 0;) {
      const auto chunk = static_cast<size_t>(std::min<std::uint64_t>(left, block.size()));
      if (archive_write_data(a, block.data(), chunk) < 0) check(a, ARCHIVE_FATAL, "write zeros");
      left -= chunk;
    }
  } else if (!entry.data.empty()) {
    if (archive_write_data(a, entry.data.data(), entry.data.size()) < 0) check(a, ARCHIVE_FATAL, "write data");
  }
}

}  // namespace

WriteEntry file(std::string path, std::string data) {
  return WriteEntry{WriteEntry::Type::file, std::move(path), std::move(data), {}, 0, 0};
}
WriteEntry directory(std::string path) { return WriteEntry{WriteEntry::Type::directory, std::move(path), {}, {}, 0, 0}; }

void write_archive(const std::filesystem::path& path, WriteFormat format, const std::vector<WriteEntry>& entries) {
  std::unique_ptr<struct archive, WriterFree> writer(archive_write_new());
  struct archive* a = writer.get();
  switch (format) {
    case WriteFormat::pax_tar_gz:
      check(a, archive_write_add_filter_gzip(a), "gzip filter");
      check(a, archive_write_set_format_pax_restricted(a), "pax format");
      break;
    case WriteFormat::pax_tar: check(a, archive_write_set_format_pax_restricted(a), "pax format"); break;
    case WriteFormat::ustar_tar: check(a, archive_write_set_format_ustar(a), "ustar format"); break;
    case WriteFormat::zip: check(a, archive_write_set_format_zip(a), "zip format"); break;
  }
  check(a, archive_write_open_filename(a, path.c_str()), fmt::format("open {}", path.string()));
  for (const auto& one : entries) {
    std::unique_ptr<struct archive_entry, EntryFree> holder(archive_entry_new());
    struct archive_entry* entry = holder.get();
    archive_entry_copy_pathname(entry, one.path.c_str());
    archive_entry_set_mtime(entry, 1700000000, 0);
    archive_entry_set_uname(entry, "build");
    archive_entry_set_gname(entry, "build");
    using Type = WriteEntry::Type;
    switch (one.type) {
      case Type::file:
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_perm(entry, 0644);
        if (one.sparse_size > 0) {
          archive_entry_set_size(entry, static_cast<la_int64_t>(one.sparse_size));
          archive_entry_sparse_add_entry(entry, 0, static_cast<la_int64_t>(one.data.size()));
        } else {
          archive_entry_set_size(entry, static_cast<la_int64_t>(one.zeros > 0 ? one.zeros : one.data.size()));
        }
        break;
      case Type::directory:
        archive_entry_set_filetype(entry, AE_IFDIR);
        archive_entry_set_perm(entry, 0755);
        break;
      case Type::symlink:
        archive_entry_set_filetype(entry, AE_IFLNK);
        archive_entry_set_perm(entry, 0777);
        archive_entry_copy_symlink(entry, one.link.c_str());
        break;
      case Type::hardlink:
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_perm(entry, 0644);
        archive_entry_copy_hardlink(entry, one.link.c_str());
        archive_entry_set_size(entry, 0);
        break;
      case Type::char_device:
        archive_entry_set_filetype(entry, AE_IFCHR);
        archive_entry_set_perm(entry, 0666);
        archive_entry_set_rdev(entry, makedev(1, 3));
        break;
      case Type::block_device:
        archive_entry_set_filetype(entry, AE_IFBLK);
        archive_entry_set_perm(entry, 0660);
        archive_entry_set_rdev(entry, makedev(8, 0));
        break;
      case Type::fifo:
        archive_entry_set_filetype(entry, AE_IFIFO);
        archive_entry_set_perm(entry, 0644);
        break;
    }
    check(a, archive_write_header(a, entry), fmt::format("header of {}", one.path));
    if (one.type == Type::file) write_content(a, one);
    check(a, archive_write_finish_entry(a), fmt::format("finish {}", one.path));
  }
  check(a, archive_write_close(a), fmt::format("close {}", path.string()));
}

}  // namespace snapcell::testing
