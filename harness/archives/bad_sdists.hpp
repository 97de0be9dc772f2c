#pragma once
// The archive corpus of issue 4: invalid sdists that `snapcell build` must
// refuse (exit 2, one line, nothing created) and valid ones it must accept.
// Each sample is the only file in OUTDIR/<slug>/, so a filename that is
// itself the problem (a newline, a ';') needs no quoting to be found.

#include <filesystem>
#include <string>
#include <vector>

namespace snapcell::testing {

struct SdistSample {
  std::string slug;      // its directory under OUTDIR: "good-..." or "bad-..."
  std::string filename;  // the archive's name in that directory
  bool valid = false;
  std::string expected;  // for a bad one: a fragment its one-line refusal must contain
  std::string what;      // one line: what is wrong with it (or what it shows)
};

// Writes every sample under `outdir` (created if missing; an existing
// sample directory is replaced) and returns them in a stable order.
std::vector<SdistSample> write_sdist_samples(const std::filesystem::path& outdir);

}  // namespace snapcell::testing
