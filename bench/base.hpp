#pragma once
// A benchmark base: the busybox chroot of ci/demo (busybox and the applets
// the benchmarks run), an /etc/os-release, and `padding_mib` MiB of padding
// in 64 KiB files, 100 to a directory, so that a bigger base also has more
// files (what a copy pays for, and a snapshot should not).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "snapcell/error.hpp"
#include "snapcell/linux/sys.hpp"
#include "snapcell/linux/tree.hpp"

namespace snapcell::bench {

inline constexpr std::size_t padding_file_bytes = 64 * 1024;
inline constexpr unsigned padding_files_per_dir = 100;

inline void write_bytes(const std::string& path, const std::string& bytes, mode_t mode = 0644) {
  auto fd = linux_sys::open_fd(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (!fd) throw Failure(fd.error());
  linux_sys::write_all(fd->get(), bytes, path).or_throw();
}

inline void make_dirs(const std::string& root, const std::vector<std::string>& names) {
  for (const auto& name : names)
    linux_sys::check(::mkdir((root + "/" + name).c_str(), 0755), "mkdir", root + "/" + name).or_throw();
}

// Not compressible and not sparse: a copy must move every byte.
inline std::string padding_bytes(std::uint64_t seed) {
  std::string bytes(padding_file_bytes, '\0');
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::size_t i = 0; i + 8 <= bytes.size(); i += 8) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift64
    for (int b = 0; b < 8; ++b) bytes[i + b] = static_cast<char>(x >> (8 * b));
  }
  return bytes;
}

inline void make_base(const std::string& root, unsigned padding_mib) {
  make_dirs(root, {"bin", "proc", "dev", "tmp", "etc", "usr", "padding"});
  auto busybox = linux_sys::read_file("/bin/busybox");
  if (!busybox) throw Failure(busybox.error());
  write_bytes(root + "/bin/busybox", *busybox, 0755);
  for (const char* applet : {"sh", "true", "sleep", "setsid", "seq", "echo", "cat"})
    linux_sys::check(::symlink("busybox", (root + "/bin/" + applet).c_str()), "symlink", root + "/bin/" + applet)
        .or_throw();
  // systemd-nspawn refuses a tree without /usr and an os-release (bench/compare runs it on these bases too).
  write_bytes(root + "/etc/os-release", "NAME=snapcell-bench\nID=snapcell-bench\n");

  const unsigned files = padding_mib * (1024 * 1024 / padding_file_bytes);
  for (unsigned i = 0; i < files; ++i) {
    const std::string dir = fmt::format("{}/padding/d{:03}", root, i / padding_files_per_dir);
    if (i % padding_files_per_dir == 0) linux_sys::check(::mkdir(dir.c_str(), 0755), "mkdir", dir).or_throw();
    write_bytes(fmt::format("{}/f{:05}", dir, i), padding_bytes(i));
  }
}

}  // namespace snapcell::bench
