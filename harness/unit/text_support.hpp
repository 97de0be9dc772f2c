#pragma once
// Helpers the parser tests share: reading a live kernel file, and the
// detail text of a parse result (or "<accepted>").

#include <fstream>
#include <sstream>
#include <string>

namespace snapcell::testing {

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

template <class R>
std::string detail_of(const R& result) {
  return result ? std::string("<accepted>") : result.error().detail;
}

}  // namespace snapcell::testing
