// Fuzz target: parse_lvs_report (include/snapcell/linux/lvm_report.hpp),
// the reader of `lvs --reportformat json` that LvmVolumes lists volumes with.
//
// Properties:
//  never crashes, whatever the bytes;
//  an accepted report has, in every record, a non-empty lv_name and vg_name,
//  an lv_attr of 0 or 10 characters, a data_percent within [0, 100] and
//  device numbers that are not negative;
//  accepted records written back as a report (lvs's shape, every value a
//  string) parse to the same records: nothing the reader kept depends on
//  how the text was laid out.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "check.hpp"
#include "snapcell/linux/lvm_report.hpp"

namespace {

using snapcell::linux_text::LvRecord;
using snapcell::linux_text::parse_lvs_report;

std::string percent_text(const std::optional<double>& value) {
  return value ? fmt::format("{:.17g}", *value) : std::string();
}

std::string number_text(const std::optional<int>& value) { return value ? std::to_string(*value) : std::string("-1"); }

std::string write_back(const std::vector<LvRecord>& records) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& record : records)
    rows.push_back({{"vg_name", record.vg_name},
                    {"lv_name", record.lv_name},
                    {"origin", record.origin},
                    {"pool_lv", record.pool_lv},
                    {"lv_attr", record.lv_attr},
                    {"data_percent", percent_text(record.data_percent)},
                    {"lv_kernel_major", number_text(record.kernel_major)},
                    {"lv_kernel_minor", number_text(record.kernel_minor)}});
  return nlohmann::json{{"report", nlohmann::json::array({nlohmann::json{{"lv", rows}}})}}.dump();
}

bool same(const LvRecord& a, const LvRecord& b) {
  return a.vg_name == b.vg_name && a.lv_name == b.lv_name && a.origin == b.origin && a.pool_lv == b.pool_lv &&
         a.lv_attr == b.lv_attr && a.data_percent == b.data_percent && a.kernel_major == b.kernel_major &&
         a.kernel_minor == b.kernel_minor;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto records = parse_lvs_report(text);
  if (!records) return 0;
  for (const auto& record : *records) {
    FUZZ_CHECK(!record.lv_name.empty() && !record.vg_name.empty(), text, "a record without a name was accepted");
    FUZZ_CHECK(record.lv_attr.empty() || record.lv_attr.size() == 10, text, "lv_attr '{}' accepted", record.lv_attr);
    FUZZ_CHECK(!record.data_percent || (*record.data_percent >= 0 && *record.data_percent <= 100), text,
               "data_percent {} accepted", percent_text(record.data_percent));
    FUZZ_CHECK(!record.kernel_major || *record.kernel_major >= 0, text, "negative major accepted");
    FUZZ_CHECK(!record.kernel_minor || *record.kernel_minor >= 0, text, "negative minor accepted");
  }
  const std::string again = write_back(*records);
  const auto reparsed = parse_lvs_report(again);
  FUZZ_CHECK(reparsed.is_ok(), text, "written back, the records do not parse: {}", again);
  FUZZ_CHECK(reparsed->size() == records->size(), text, "written back, {} records became {}", records->size(),
             reparsed->size());
  for (std::size_t i = 0; i < records->size(); ++i)
    FUZZ_CHECK(same((*records)[i], (*reparsed)[i]), text, "record {} changed when written back: {}", i, again);
  return 0;
}
