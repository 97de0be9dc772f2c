#pragma once
// The reader of `lvs --reportformat json` output. Unlike the rest of the
// core (std + fmt), this header needs nlohmann-json (Debian's
// nlohmann-json3-dev, header-only too): lvm's JSON is parsed with a real JSON
// library, not by hand. Only code that includes lvm_volumes.hpp or this
// header needs it.
//
// lvm prints, for `lvs --reportformat json -o FIELDS`:
//   {"report": [ {"lv": [ {"lv_name":"base", "vg_name":"vg", ...}, ... ]} ]}
// every value a string (numbers too: "12.50", or "" where a field does not
// apply). The reader is strict: anything not of that shape is an error,
// never a partial list, because a volume missed here is a volume reap would
// not see.

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "snapcell/error.hpp"

namespace snapcell::linux_text {

struct LvRecord {
  std::string vg_name;
  std::string lv_name;
  std::string origin;   // the LV it is a snapshot of; empty for anything else
  std::string pool_lv;  // the thin pool of a thin LV; empty otherwise
  std::string lv_attr;  // 10 characters, or empty when not asked for
  std::optional<double> data_percent;  // a thin pool's or thin LV's data use; a classic snapshot's COW use
  std::optional<int> kernel_major;     // of the active device; absent when inactive
  std::optional<int> kernel_minor;
  std::optional<std::uint64_t> size_bytes;  // lv_size, when asked for with `--units b --nosuffix`

  bool active() const { return lv_attr.size() == 10 && lv_attr[4] == 'a'; }
  // lv_attr's 5th character: 'I' for an invalidated classic snapshot, which
  // overflowed its COW space.
  bool invalid_snapshot() const { return lv_attr.size() == 10 && lv_attr[4] == 'I'; }
};

namespace detail {

inline Error report_error(std::string detail) { return logic_error("parse lvs report", "", std::move(detail)); }

inline Result<std::optional<double>> percent_field(const std::string& text, std::string_view field) {
  if (text.empty()) return std::optional<double>{};
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !(value >= 0.0 && value <= 100.0))
    return report_error(fmt::format("{} is not a percentage: '{}'", field, text));
  return std::optional<double>{value};
}

inline Result<std::optional<std::uint64_t>> bytes_field(const std::string& text, std::string_view field) {
  if (text.empty()) return std::optional<std::uint64_t>{};
  if (text.size() > 19) return report_error(fmt::format("{} is too long: '{}'", field, text));
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return report_error(fmt::format("{} is not a byte count: '{}'", field, text));
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return std::optional<std::uint64_t>{value};
}

inline Result<std::optional<int>> device_number_field(const std::string& text, std::string_view field) {
  // lvm prints -1 for an inactive LV.
  if (text.empty() || text == "-1") return std::optional<int>{};
  if (text.size() > 9) return report_error(fmt::format("{} is too long: '{}'", field, text));
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return report_error(fmt::format("{} is not a device number: '{}'", field, text));
    value = value * 10 + (c - '0');
  }
  return std::optional<int>{value};
}

}  // namespace detail

inline Result<std::vector<LvRecord>> parse_lvs_report(std::string_view text) {
  using nlohmann::json;
  const json document = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return detail::report_error("not valid JSON");
  if (!document.is_object()) return detail::report_error("the top level is not an object");
  auto report = document.find("report");
  if (report == document.end() || !report->is_array()) return detail::report_error("no \"report\" array");

  std::vector<LvRecord> records;
  for (const json& section : *report) {
    if (!section.is_object()) return detail::report_error("a report section is not an object");
    auto lvs = section.find("lv");
    if (lvs == section.end()) continue;  // a section of another report type
    if (!lvs->is_array()) return detail::report_error("\"lv\" is not an array");
    for (const json& row : *lvs) {
      if (!row.is_object()) return detail::report_error("an lv row is not an object");
      LvRecord record;
      std::string data_percent, major, minor, size;
      bool has_name = false, has_vg = false;
      for (auto field = row.begin(); field != row.end(); ++field) {
        if (!field.value().is_string())
          return detail::report_error(fmt::format("field {} is not a string", field.key()));
        const std::string& value = field.value().get_ref<const std::string&>();
        const std::string& key = field.key();
        if (key == "lv_name") record.lv_name = value, has_name = true;
        else if (key == "vg_name") record.vg_name = value, has_vg = true;
        else if (key == "origin") record.origin = value;
        else if (key == "pool_lv") record.pool_lv = value;
        else if (key == "lv_attr") record.lv_attr = value;
        else if (key == "data_percent") data_percent = value;
        else if (key == "lv_kernel_major") major = value;
        else if (key == "lv_kernel_minor") minor = value;
        else if (key == "lv_size") size = value;
        // other fields are allowed and ignored: what was asked for decides
      }
      if (!has_name || record.lv_name.empty()) return detail::report_error("an lv row has no lv_name");
      if (!has_vg || record.vg_name.empty()) return detail::report_error("an lv row has no vg_name");
      if (!record.lv_attr.empty() && record.lv_attr.size() != 10)
        return detail::report_error(fmt::format("lv_attr '{}' is not 10 characters", record.lv_attr));
      auto percent = detail::percent_field(data_percent, "data_percent");
      if (!percent) return percent.error();
      record.data_percent = *percent;
      auto major_number = detail::device_number_field(major, "lv_kernel_major");
      if (!major_number) return major_number.error();
      auto minor_number = detail::device_number_field(minor, "lv_kernel_minor");
      if (!minor_number) return minor_number.error();
      record.kernel_major = *major_number;
      record.kernel_minor = *minor_number;
      auto size_bytes = detail::bytes_field(size, "lv_size");
      if (!size_bytes) return size_bytes.error();
      record.size_bytes = *size_bytes;
      records.push_back(std::move(record));
    }
  }
  return records;
}

}  // namespace snapcell::linux_text
