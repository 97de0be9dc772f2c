#pragma once
// The wheel filename of PEP 427 / the binary distribution format spec:
// {name}-{ver}(-{build})?-{py}-{abi}-{plat}.whl, where no part holds '-'
// (names and versions escape it as '_'). Pure, no I/O.

#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "snapcell/archive_paths.hpp"
#include "snapcell/error.hpp"

namespace snapcell::archive {

struct WheelName {
  std::string project, version, build_tag, python_tag, abi_tag, platform_tag;
};

inline Result<WheelName> parse_wheel_filename(std::string_view filename) {
  auto reject = [&](std::string detail) {
    return logic_error("wheel filename", archive_detail::shown(filename), std::move(detail));
  };
  if (!filename.ends_with(".whl")) return reject("must end with .whl");
  const std::string_view stem = filename.substr(0, filename.size() - 4);
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= stem.size()) {
    std::size_t end = stem.find('-', start);
    if (end == std::string_view::npos) end = stem.size();
    parts.emplace_back(stem.substr(start, end - start));
    start = end + 1;
  }
  if (parts.size() != 5 && parts.size() != 6)
    return reject(fmt::format("has {} '-'-separated parts, not NAME-VERSION(-BUILD)-PY-ABI-PLATFORM", parts.size()));
  for (const auto& part : parts)
    if (auto problem = pep508_name_problem(part, max_project_name_bytes))
      return reject(fmt::format("part '{}' {}", archive_detail::shown(part), *problem));
  WheelName name;
  name.project = parts[0];
  name.version = parts[1];
  if (auto status = validate_version(name.version); !status)
    return reject(fmt::format("version '{}' {}", name.version, status.error().detail));
  const std::size_t tags = parts.size() - 3;
  if (parts.size() == 6) {
    name.build_tag = parts[2];
    if (name.build_tag.front() < '0' || name.build_tag.front() > '9')
      return reject(fmt::format("build tag '{}' must start with a digit", name.build_tag));
  }
  name.python_tag = parts[tags];
  name.abi_tag = parts[tags + 1];
  name.platform_tag = parts[tags + 2];
  return name;
}

}  // namespace snapcell::archive
