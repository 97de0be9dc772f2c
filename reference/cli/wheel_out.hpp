#pragma once
// What a build hands back: only `*.whl` files from /build/out of its
// snapshot, read after every build process is proven gone (Session::stop),
// each copied to a hidden name in the output directory, checked there as a
// wheel of the project, and only then renamed into place. Anything else the
// build left (links, huge files, other names) stays in the snapshot and
// goes with it.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/archive_module.hpp"
#include "cli/copy_in.hpp"
#include "snapcell/error.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/linux/tree.hpp"

namespace snapcell::cli {

inline constexpr std::size_t max_wheels = 16;
inline constexpr std::uint64_t max_wheel_bytes = 256ull << 20;

struct WheelOut {
  std::string file;  // in the output directory
  std::string sha256;
  std::uint64_t bytes = 0;
};

struct Collected {
  std::vector<WheelOut> wheels;
  std::vector<std::string> refused;  // name: why, for the report
};

namespace detail {

inline bool ends_with(const std::string& text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Versions as PEP 440 compares them for the cases sdists and wheels differ
// in: case, a leading 'v', '-' or '_' for '.', and trailing ".0"s of the
// release ("1.0" is "1"). Anything subtler compares unequal: a wheel whose
// version is not plainly the sdist's is refused, not guessed at.
inline std::string comparable_version(std::string_view version) {
  std::string out;
  for (char c : version) out.push_back(c == '-' || c == '_' ? '.' : (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c);
  if (!out.empty() && out.front() == 'v') out.erase(0, 1);
  std::size_t release_end = 0;
  while (release_end < out.size() && (std::isdigit(static_cast<unsigned char>(out[release_end])) || out[release_end] == '.'))
    ++release_end;
  if (release_end > 0 && out[release_end - 1] == '.') --release_end;  // "1.0.dev0": the release is "1.0"
  std::string release = out.substr(0, release_end);
  while (release.size() > 2 && release.ends_with(".0")) release.resize(release.size() - 2);
  return release + out.substr(release_end);
}

inline Result<WheelOut> take_wheel(int out_dir_fd, const std::string& name, const std::string& out_dir,
                                   const std::string& project, const std::string& version, const std::string& session) {
  namespace fs = std::filesystem;
  const std::string staging = fmt::format(".{}.incoming", session);
  auto stage = directory_in(AT_FDCWD, out_dir + "/" + staging, out_dir + "/" + staging);
  if (!stage) return stage.error();
  const std::string staged = fmt::format("{}/{}/{}", out_dir, staging, name);
  auto check = inspect_wheel(staged, project);
  if (check && comparable_version(check->version) != comparable_version(version))
    check = logic_error("wheel version", name,
                        fmt::format("is {}, not the sdist's {} (a build that lost its version is not a build of it)",
                                    check->version, version));
  Result<std::string> digest = check ? sha256_file(staged) : Result<std::string>(check.error());
  if (!check || !digest) {
    (void)::unlink(staged.c_str());
    (void)::rmdir((out_dir + "/" + staging).c_str());
    return digest.error();
  }
  const std::string final_path = out_dir + "/" + name;
  if (::renameat(AT_FDCWD, staged.c_str(), out_dir_fd, name.c_str()) != 0) {
    const int code = errno;
    (void)::unlink(staged.c_str());
    (void)::rmdir((out_dir + "/" + staging).c_str());
    return errno_error("rename", final_path, code);
  }
  (void)::rmdir((out_dir + "/" + staging).c_str());
  return WheelOut{final_path, *digest, check->archive_bytes};
}

}  // namespace detail

inline Result<Collected> collect_wheels(const std::string& mount_point, const std::string& project,
                                        const std::string& version, const std::string& out_dir,
                                        const std::string& session) {
  Collected collected;
  auto root = linux_sys::open_fd(mount_point, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!root) return root.error();
  auto build = linux_sys::open_at(root->get(), "build", O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!build) return Error{"open", mount_point + "/build", build.code(), ""};
  auto from = linux_sys::open_at(build->get(), "out", O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!from) {
    if (from.code() == ENOENT) return collected;
    return Error{"open", mount_point + "/build/out", from.code(), from.code() == ELOOP ? "is a symbolic link" : ""};
  }
  auto names = linux_sys::list_names_at(from->get(), mount_point + "/build/out");
  if (!names) return names.error();
  std::vector<std::string> candidates;
  for (const auto& name : *names)
    if (detail::ends_with(name, ".whl") && name.front() != '.') candidates.push_back(name);
  if (candidates.size() > max_wheels)
    return logic_error("collect wheels", mount_point + "/build/out",
                       fmt::format("{} wheels, more than the {} a build may hand back", candidates.size(), max_wheels));
  if (candidates.empty()) return collected;

  std::error_code made_error;
  std::filesystem::create_directories(out_dir, made_error);
  if (made_error) return Error{"mkdir", out_dir, made_error.value(), ""};
  auto out = linux_sys::open_fd(out_dir, O_RDONLY | O_DIRECTORY);
  if (!out) return out.error();
  for (const auto& name : candidates) {
    const std::string shown = mount_point + "/build/out/" + name;
    // A look before the open, so that a device node is never opened; then
    // the open itself refuses a link and does not wait on a FIFO, and what
    // was opened is judged again: it must be the file looked at.
    struct stat looked {};
    if (::fstatat(from->get(), name.c_str(), &looked, AT_SYMLINK_NOFOLLOW) != 0) return errno_error("fstatat", shown);
    if (!S_ISREG(looked.st_mode)) {
      collected.refused.push_back(name + ": not a regular file");
      continue;
    }
    auto wheel = linux_sys::open_at(from->get(), name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (!wheel && wheel.code() == ELOOP) {
      collected.refused.push_back(name + ": replaced by a symbolic link while it was looked at");
      continue;
    }
    if (!wheel) return Error{"open", shown, wheel.code(), ""};
    struct stat opened {};
    if (::fstat(wheel->get(), &opened) != 0) return errno_error("fstat", shown);
    if (!S_ISREG(opened.st_mode) || opened.st_dev != looked.st_dev || opened.st_ino != looked.st_ino) {
      collected.refused.push_back(name + ": replaced while it was looked at");
      continue;
    }
    if (static_cast<std::uint64_t>(opened.st_size) > max_wheel_bytes) {
      collected.refused.push_back(fmt::format("{}: {} bytes, over the {} cap", name, opened.st_size, max_wheel_bytes));
      continue;
    }
    const std::string staging_dir = fmt::format("{}/.{}.incoming", out_dir, session);
    auto stage = directory_in(AT_FDCWD, staging_dir, staging_dir);
    if (!stage) return stage.error();
    if (Status copied = copy_fd_into(wheel->get(), stage->get(), name, shown, -1, -1, max_wheel_bytes); !copied) {
      (void)::unlinkat(stage->get(), name.c_str(), 0);
      (void)::rmdir(staging_dir.c_str());
      if (copied.error().code != 0) return copied.error();  // the host's side failed: not the wheel's fault
      collected.refused.push_back(fmt::format("{}: {}", name, copied.error().message()));
      continue;
    }
    auto taken = detail::take_wheel(out->get(), name, out_dir, project, version, session);
    if (!taken) {
      collected.refused.push_back(fmt::format("{}: {}", name, taken.error().message()));
      continue;
    }
    collected.wheels.push_back(*taken);
  }
  return collected;
}

}  // namespace snapcell::cli
