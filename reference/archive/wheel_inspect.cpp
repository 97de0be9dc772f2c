// inspect_wheel: a zip whose filename names the expected project (PEP 503
// normalized) and whose members pass archive_paths.hpp anywhere in the tree,
// with the {name}-{version}.dist-info/METADATA every wheel carries.

#include <fmt/format.h>

#include "archive/inspect.hpp"
#include "archive/member_scan.hpp"
#include "archive/wheel_filename.hpp"

namespace snapcell::archive {

namespace {

// "demo_pkg-1.0.dist-info/METADATA" -> true when its directory names this
// wheel's project (normalized) and version.
bool is_own_metadata(std::string_view member, const WheelName& wheel) {
  constexpr std::string_view suffix = ".dist-info/METADATA";
  if (!member.ends_with(suffix)) return false;
  const std::string_view stem = member.substr(0, member.size() - suffix.size());
  if (stem.find('/') != std::string_view::npos) return false;
  const auto dash = stem.rfind('-');
  if (dash == std::string_view::npos) return false;
  return normalize_project_name(stem.substr(0, dash)) == normalize_project_name(wheel.project) &&
         stem.substr(dash + 1) == wheel.version;
}

}  // namespace

Result<WheelFacts> inspect_wheel(const std::filesystem::path& path, std::string_view expected_project,
                                 const SdistLimits& limits) {
  const std::string filename = path.filename().string();
  auto name = parse_wheel_filename(filename);
  if (!name) return name.error();
  if (normalize_project_name(name->project) != normalize_project_name(expected_project))
    return logic_error("wheel filename", archive_detail::shown(filename),
                       fmt::format("is for project '{}', not '{}'", name->project,
                                   archive_detail::shown(expected_project)));

  WheelFacts facts;
  facts.project = name->project;
  facts.version = name->version;
  facts.build_tag = name->build_tag;
  facts.python_tag = name->python_tag;
  facts.abi_tag = name->abi_tag;
  facts.platform_tag = name->platform_tag;

  auto tree = MemberTree::anywhere();
  auto totals = scan_members(path, filename, ArchiveFormat::zip, limits, tree, [&](const std::string& member) {
    if (facts.dist_info.empty() && is_own_metadata(member, *name))
      facts.dist_info = member.substr(0, member.find('/'));
  });
  if (!totals) return totals.error();
  if (facts.dist_info.empty())
    return logic_error("inspect wheel", archive_detail::shown(filename),
                       fmt::format("has no {}-{}.dist-info/METADATA", name->project, name->version));
  facts.member_count = totals->member_count;
  facts.total_bytes = totals->total_bytes;
  facts.archive_bytes = totals->archive_bytes;
  return facts;
}

}  // namespace snapcell::archive
