#pragma once
// The journal on disk: one file per session in a directory, with flock(2)
// as the proof that its controller lives. The lock belongs to the open file
// description, so it is held exactly as long as the fd this object keeps,
// and the kernel drops it when the controller dies, however it dies. (POSIX
// record locks would not do: any close() of the file by the process, a read
// of the record included, drops them.)
//
// A record is never visible unlocked: it is made with O_TMPFILE, locked,
// written and synced while it has no name, and only then linked to its name
// (EEXIST if taken). So a reaper can never lock a record before its creator.
// Updates rewrite it in place through the locked fd; a rename would move the
// name to a new, unlocked inode.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/linux/sys.hpp"
#include "snapcell/linux/tree.hpp"
#include "snapcell/names.hpp"
#include "snapcell/policies.hpp"

namespace snapcell::linux_sys {

class DirectoryJournal {
 public:
  // Makes the directory (0700) if it is missing. Throws Failure when it
  // cannot be opened, or when another user could write to it: whoever can
  // plant records can direct reap.
  explicit DirectoryJournal(std::string dir) : dir_(std::move(dir)) {
    validate_absolute_path("journal dir", dir_).or_throw();
    auto fd = open_directory(dir_, true);
    if (!fd) throw Failure(fd.error());
    struct stat st {};
    check(::fstat(fd->get(), &st), "fstat", dir_).or_throw();
    if (st.st_uid != ::geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
      throw Failure(logic_error("open journal dir", dir_, "is not owned by us, or writable by others"));
    dir_fd_ = std::move(*fd);
  }

  const std::string& dir() const { return dir_; }
  bool holds(const std::string& name) const { return held_.count(name) != 0; }

  Status claim(const std::string& name, const std::string& content) {
    if (Status valid = validate_record_name(name); !valid) return valid;
    const std::string shown = path_of(name);
    if (holds(name)) return errno_error("claim", shown, EEXIST);
    auto fd = open_at(dir_fd_.get(), ".", O_TMPFILE | O_RDWR, 0600);
    if (!fd) return errno_error("openat O_TMPFILE", dir_, fd.code());
    if (::flock(fd->get(), LOCK_EX | LOCK_NB) != 0) return errno_error("flock", shown);  // nobody else can reach it
    if (Status written = write_all(fd->get(), content, shown); !written) return written;
    if (::fsync(fd->get()) != 0) return errno_error("fsync", shown);
    const std::string magic = fmt::format("/proc/self/fd/{}", fd->get());
    if (::linkat(AT_FDCWD, magic.c_str(), dir_fd_.get(), name.c_str(), AT_SYMLINK_FOLLOW) != 0)
      return errno_error("linkat", shown);
    if (Status synced = sync_dir(); !synced) {  // a claim that may not survive a crash is no claim
      (void)::unlinkat(dir_fd_.get(), name.c_str(), 0);
      return synced;
    }
    held_.emplace(name, std::move(*fd));
    return {};
  }

  Status update(const std::string& name, const std::string& content) {
    if (Status valid = validate_record_name(name); !valid) return valid;
    const std::string shown = path_of(name);
    auto it = held_.find(name);
    if (it == held_.end()) return not_held("journal update", name);
    const int fd = it->second.get();
    if (Status written = write_all(fd, content, shown, 0); !written) return written;
    if (::ftruncate(fd, static_cast<off_t>(content.size())) != 0) return errno_error("ftruncate", shown);
    if (::fsync(fd) != 0) return errno_error("fsync", shown);
    return {};
  }

  Result<std::string> read(const std::string& name) {
    if (Status valid = validate_record_name(name); !valid) return valid.error();
    return read_file_at(dir_fd_.get(), name, path_of(name));
  }

  // Every record's name, sorted; hidden names are not records.
  Result<std::vector<std::string>> names() {
    auto all = list_names_at(dir_fd_.get(), dir_);
    if (!all) return all;
    std::vector<std::string> names;
    for (auto& name : *all)
      if (validate_record_name(name)) names.push_back(std::move(name));
    return names;
  }

  // False while a live controller holds the record. The name is checked to
  // still lead to the inode locked: its owner may have erased it between our
  // open and our lock, and another session may have claimed the name since.
  Result<bool> try_adopt(const std::string& name) {
    if (Status valid = validate_record_name(name); !valid) return valid.error();
    if (holds(name)) return true;
    const std::string shown = path_of(name);
    auto fd = open_at(dir_fd_.get(), name, O_RDWR | O_NOFOLLOW);
    if (!fd) return errno_error("open", shown, fd.code());
    if (::flock(fd->get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) return false;
      return errno_error("flock", shown);
    }
    auto same = still_named(fd->get(), name);
    if (!same) return same.error();
    if (!*same) return Error{"adopt", shown, ENOENT, "the record was erased while we locked it"};
    held_.emplace(name, std::move(*fd));
    return true;
  }

  // Drops the lock and keeps the record. Releasing what is not held is fine.
  Status release(const std::string& name) {
    if (Status valid = validate_record_name(name); !valid) return valid;
    held_.erase(name);
    return {};
  }

  // Only the holder erases: unlink while locked, then let go.
  Status erase(const std::string& name) {
    if (Status valid = validate_record_name(name); !valid) return valid;
    const std::string shown = path_of(name);
    auto it = held_.find(name);
    if (it == held_.end()) return not_held("journal erase", name);
    auto same = still_named(it->second.get(), name);
    if (!same) return same.error();
    if (!*same) {
      held_.erase(it);
      return Error{"unlink", shown, ENOENT, "the record held was no longer under its name"};
    }
    if (::unlinkat(dir_fd_.get(), name.c_str(), 0) != 0) return errno_error("unlinkat", shown);
    held_.erase(it);
    (void)sync_dir();  // the record is gone for every reader; should a crash bring it back, reap settles it
    return {};
  }

 private:
  static Status validate_record_name(const std::string& name) { return validate_entry_name("journal record name", name); }

  std::string path_of(const std::string& name) const { return join_path(dir_, name); }

  // ENOENT when there is no such record, as the fake says it.
  Status not_held(std::string_view step, const std::string& name) const {
    struct stat st {};
    if (::fstatat(dir_fd_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return errno_error("stat", path_of(name));
    return logic_error(std::string(step), name, "record is not held by this controller");
  }

  Result<bool> still_named(int fd, const std::string& name) const {
    struct stat held {};
    struct stat named {};
    if (::fstat(fd, &held) != 0) return errno_error("fstat", path_of(name));
    if (::fstatat(dir_fd_.get(), name.c_str(), &named, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return false;
      return errno_error("stat", path_of(name));
    }
    return held.st_nlink > 0 && held.st_dev == named.st_dev && held.st_ino == named.st_ino;
  }

  Status sync_dir() {
    if (::fsync(dir_fd_.get()) != 0) return errno_error("fsync", dir_);
    return {};
  }

  std::string dir_;
  UniqueFd dir_fd_;
  std::map<std::string, UniqueFd> held_;
};

static_assert(JournalStore<DirectoryJournal>);

}  // namespace snapcell::linux_sys
