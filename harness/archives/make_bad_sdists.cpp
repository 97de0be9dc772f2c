// snapcell-make-bad-sdists OUTDIR: writes the archive corpus of issue 4
// (bad_sdists.cpp) and prints one line per sample, tab-separated:
//
//   good|bad <TAB> SLUG/FILENAME <TAB> expected refusal fragment (bad) <TAB> what it is
//
// FILENAME is shown with bytes outside printable ASCII as \xNN; each sample
// is the only file in OUTDIR/SLUG/, so scripts can take OUTDIR/SLUG/*.

#include <cstdio>
#include <exception>

#include <fmt/format.h>

#include "archives/bad_sdists.hpp"
#include "snapcell/archive_paths.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: {} OUTDIR\n", argv[0]);
    return 2;
  }
  try {
    for (const auto& sample : snapcell::testing::write_sdist_samples(argv[1]))
      fmt::print("{}\t{}/{}\t{}\t{}\n", sample.valid ? "good" : "bad", sample.slug,
                 snapcell::archive_detail::shown(sample.filename), sample.expected, sample.what);
  } catch (const std::exception& error) {
    fmt::print(stderr, "snapcell-make-bad-sdists: {}\n", error.what());
    return 1;
  }
  return 0;
}
