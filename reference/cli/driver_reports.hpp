#pragma once
// What the build driver (build_driver.hpp) reported from inside the
// sandbox, read from /build of the snapshot once every build process is
// proven gone: the build requirements it found missing
// (requirements.json), and how many processes the build left behind when
// its backend had returned (left-behind.json). Both files were written in
// the sandbox, so each is opened without following links or blocking (a
// FIFO put there must not hang the controller), checked to be a regular
// file on the opened fd, read up to a cap, and every string is kept to one
// printable line. They only ever explain a failure.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/exit_codes.hpp"
#include "snapcell/error.hpp"
#include "snapcell/linux/fd.hpp"
#include "snapcell/linux/sys.hpp"

namespace snapcell::cli {

struct MissingRequirement {
  std::string requirement;  // as the project wrote it, e.g. "setuptools-scm>=8"
  std::string why;          // "base has none", "base has 7.1.0", ...
  std::string line() const { return fmt::format("missing build requirement: {} ({})", requirement, why); }
};

struct DriverReports {
  std::vector<MissingRequirement> missing_requirements;
  std::optional<long> left_behind;  // processes alive when the backend had returned
};

inline constexpr std::size_t max_driver_report_bytes = 64 * 1024;
inline constexpr std::size_t max_driver_text_bytes = 200;

namespace detail {

// The JSON in /build/<name>, or nothing when the driver did not write it.
inline Result<std::optional<nlohmann::json>> read_driver_report(int build_fd, const std::string& name,
                                                                const std::string& shown) {
  auto file = linux_sys::open_at(build_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (!file) {
    if (file.code() == ENOENT) return std::optional<nlohmann::json>();
    return Error{"open", shown, file.code(), file.code() == ELOOP ? "is a symbolic link" : ""};
  }
  struct stat st {};
  if (::fstat(file->get(), &st) != 0) return errno_error("fstat", shown);
  if (!S_ISREG(st.st_mode)) return logic_error("read build driver report", shown, "is not a regular file");
  std::string text(max_driver_report_bytes + 1, '\0');
  const ssize_t n = linux_sys::retry_eintr([&] { return ::read(file->get(), text.data(), text.size()); });
  if (n < 0) return errno_error("read", shown);
  if (static_cast<std::size_t>(n) > max_driver_report_bytes)
    return logic_error("read build driver report", shown, fmt::format("is larger than {} bytes", max_driver_report_bytes));
  text.resize(static_cast<std::size_t>(n));
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return logic_error("read build driver report", shown, "is not the driver's report");
  return std::optional<nlohmann::json>(std::move(json));
}

inline std::string kept_text(const nlohmann::json& value) {
  std::string text = value.is_string() ? value.get<std::string>() : std::string("?");
  if (text.size() > max_driver_text_bytes) text = text.substr(0, max_driver_text_bytes) + "...";
  return one_line(text);
}

}  // namespace detail

inline Result<DriverReports> read_driver_reports(const std::string& mount_point) {
  DriverReports reports;
  auto root = linux_sys::open_fd(mount_point, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!root) return root.error();
  auto build = linux_sys::open_at(root->get(), "build", O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!build) {
    if (build.code() == ENOENT) return reports;
    return Error{"open", mount_point + "/build", build.code(), ""};
  }

  const std::string requirements_file = mount_point + "/build/requirements.json";
  auto requirements = detail::read_driver_report(build->get(), "requirements.json", requirements_file);
  if (!requirements) return requirements.error();
  if (const auto& json = *requirements) {
    if (!json->contains("missing") || !(*json)["missing"].is_array())
      return logic_error("read build driver report", requirements_file, "is not the driver's report");
    for (const auto& entry : (*json)["missing"]) {
      if (!entry.is_object())
        return logic_error("read build driver report", requirements_file, "is not the driver's report");
      reports.missing_requirements.push_back({detail::kept_text(entry.value("requirement", nlohmann::json())),
                                              detail::kept_text(entry.value("why", nlohmann::json()))});
      if (reports.missing_requirements.size() == 64) break;  // enough to say why
    }
  }

  const std::string left_file = mount_point + "/build/left-behind.json";
  auto left = detail::read_driver_report(build->get(), "left-behind.json", left_file);
  if (!left) return left.error();
  if (const auto& json = *left) {
    const auto count = json->value("left_behind", nlohmann::json());
    if (!count.is_number_integer() || count.get<long>() < 1)
      return logic_error("read build driver report", left_file, "is not the driver's report");
    reports.left_behind = count.get<long>();
  }
  return reports;
}

}  // namespace snapcell::cli
