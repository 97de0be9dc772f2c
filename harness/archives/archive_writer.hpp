#pragma once
// Writes test archives with libarchive's write API: the bad-sdist corpus
// (bad_sdists.cpp) and the wheels of the archive tests. Test code only.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace snapcell::testing {

enum class WriteFormat { pax_tar_gz, pax_tar, ustar_tar, zip };

struct WriteEntry {
  enum class Type { file, directory, symlink, hardlink, char_device, block_device, fifo } type = Type::file;
  std::string path;
  std::string data;          // file content
  std::string link;          // symlink target, or the earlier member a hardlink names
  std::uint64_t sparse_size = 0;  // > 0: a sparse file of this logical size holding `data` at offset 0
  std::uint64_t zeros = 0;        // > 0: the content is this many zero bytes instead of `data`
};

// Writes `entries` in order; throws std::runtime_error with libarchive's
// message when it cannot.
void write_archive(const std::filesystem::path& path, WriteFormat format, const std::vector<WriteEntry>& entries);

// A convenience for the common case.
WriteEntry file(std::string path, std::string data = "x = 1\n");
WriteEntry directory(std::string path);

}  // namespace snapcell::testing
