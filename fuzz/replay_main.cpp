// The main() of a fuzz target built without libFuzzer (g++, or any build that
// only replays): `<target> FILE_OR_DIR...` runs every file given, and every
// regular file under every directory given (in name order), through
// LLVMFuzzerTestOneInput once. A broken property aborts, as under libFuzzer;
// otherwise it prints how many files ran, and fails when that is none (an
// empty or misplaced corpus must not pass as a green test).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

bool run_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
    return false;
  }
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // A heap copy of exactly the input's size, as libFuzzer passes it, so that
  // a sanitizer sees any read past its end.
  std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
  std::fprintf(stderr, "replay: %s (%zu bytes)\n", path.c_str(), data.size());
  LLVMFuzzerTestOneInput(data.data(), data.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
    return 2;
  }
  std::size_t ran = 0;
  bool unreadable = false;
  const auto replay = [&](const fs::path& file) {
    if (run_file(file))
      ++ran;
    else
      unreadable = true;
  };
  for (int i = 1; i < argc; ++i) {
    const fs::path given(argv[i]);
    std::error_code error;
    if (fs::is_directory(given, error)) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::recursive_directory_iterator(given, error))
        if (entry.is_regular_file()) files.push_back(entry.path());
      std::sort(files.begin(), files.end());
      for (const auto& file : files) replay(file);
    } else if (fs::exists(given, error)) {
      replay(given);
    } else {
      std::fprintf(stderr, "replay: %s does not exist\n", argv[i]);
      unreadable = true;
    }
  }
  std::printf("replay: ran %zu file(s) through %s\n", ran, argv[0]);
  if (ran == 0) {
    std::fprintf(stderr, "replay: no input ran: an empty corpus proves nothing\n");
    return 1;
  }
  return unreadable ? 1 : 0;
}
