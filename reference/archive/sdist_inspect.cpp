// inspect_sdist: the filename names the project, the version and the format;
// the members must all sit under NAME-VERSION/ and pass archive_paths.hpp.

#include <fmt/format.h>

#include "archive/inspect.hpp"
#include "archive/member_scan.hpp"

namespace snapcell::archive {

Result<SdistFacts> inspect_sdist(const std::filesystem::path& path, const SdistLimits& limits) {
  const std::string filename = path.filename().string();
  auto name = parse_sdist_filename(filename);
  if (!name) return name.error();

  SdistFacts facts;
  facts.project = name->project;
  facts.version = name->version;
  facts.format = name->format;
  facts.top_dir = name->top_dir();
  const std::string pkg_info = facts.top_dir + "/PKG-INFO";

  auto tree = MemberTree::under_top(facts.top_dir);
  auto totals = scan_members(path, filename, name->format, limits, tree, [&](const std::string& member) {
    if (member == pkg_info) facts.has_pkg_info = true;
  });
  if (!totals) return totals.error();
  facts.member_count = totals->member_count;
  facts.total_bytes = totals->total_bytes;
  facts.archive_bytes = totals->archive_bytes;
  return facts;
}

}  // namespace snapcell::archive
