// snapcell-doc-claims: the documentation's claims checked against their
// sources, so that the two cannot drift apart.
//
//   snapcell-doc-claims containment DOC EXPECTED_DIR [--write]
//     The containment table of DOC (docs/verify.md), between the markers
//     below, must be exactly the table generated from the verify matrices,
//     harness/verify/expected/<backend>-<supervisor>.txt: one row per
//     technique, one column per supervisor, a cell naming the backends where
//     they differ. --write puts the generated table into DOC instead.
//   snapcell-doc-claims performance DOC SOURCE_DIR
//     Every figure of DOC (docs/performance.md, the whole page) comes from a
//     checked-in result: each block (paragraph, list item, table) that prints
//     a number cites bench/results/<date>-<what>.json (or follows a block
//     that does), the file exists, holds a commit, a command and the load
//     average, and every number the block prints appears in it.
//   snapcell-doc-claims docs SOURCE_DIR
//     README.md is what a new user reads first: under 200 lines, opening
//     (after its title) with exactly the two commands below, each a
//     script of the tree, and linking docs/design.md, which defines each of
//     I1-I9 under a heading of its own. Every relative link of README.md and
//     docs/*.md leads to a file of the tree.
// Exit 0 when the documentation agrees, 1 with one line per disagreement, 2
// on bad use.

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// ---- containment --------------------------------------------------------------------

constexpr const char* table_begin =
    "<!-- containment table: generated from harness/verify/expected/ by "
    "`snapcell-doc-claims containment docs/verify.md harness/verify/expected --write`; "
    "the test unit/docs-containment-table-matches-the-matrices fails when they disagree -->";
constexpr const char* table_end = "<!-- end of the containment table -->";

// Known names first, in the table's order; anything new after them, sorted.
int rank(const std::vector<std::string>& known, const std::string& name) {
  const auto it = std::find(known.begin(), known.end(), name);
  return it == known.end() ? static_cast<int>(known.size()) : static_cast<int>(it - known.begin());
}

struct Matrices {
  std::vector<std::string> backends, supervisors, techniques;  // in display order
  std::map<std::pair<std::string, std::string>, std::map<std::string, std::string>> cells;  // (b, s) -> t -> verdict
};

Matrices read_matrices(const fs::path& dir) {
  static const std::vector<std::string> backend_order = {"overlay", "btrfs", "copy", "lvm"};
  static const std::vector<std::string> supervisor_order = {"session", "cgroup", "pidns", "default"};
  Matrices m;
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".txt") continue;
    const std::string stem = entry.path().stem().string();
    const auto dash = stem.find('-');
    if (dash == std::string::npos) throw std::runtime_error(entry.path().string() + ": not <backend>-<supervisor>.txt");
    files.emplace_back(stem.substr(0, dash), stem.substr(dash + 1));
  }
  const auto order = [](const std::vector<std::string>& known) {
    return [&known](const std::string& a, const std::string& b) {
      return std::make_pair(rank(known, a), a) < std::make_pair(rank(known, b), b);
    };
  };
  std::sort(files.begin(), files.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return order(backend_order)(a.first, b.first);
    return order(supervisor_order)(a.second, b.second);
  });
  for (const auto& [backend, supervisor] : files) {
    if (std::find(m.backends.begin(), m.backends.end(), backend) == m.backends.end()) m.backends.push_back(backend);
    if (std::find(m.supervisors.begin(), m.supervisors.end(), supervisor) == m.supervisors.end())
      m.supervisors.push_back(supervisor);
    std::istringstream lines(read_file(dir / (backend + "-" + supervisor + ".txt")));
    auto& cells = m.cells[{backend, supervisor}];
    for (std::string line; std::getline(lines, line);) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream words(line);
      std::string technique, verdict;
      words >> technique >> verdict;
      if (technique.empty() || verdict.empty()) throw std::runtime_error(backend + "-" + supervisor + ".txt: bad line: " + line);
      cells[technique] = verdict;
      if (std::find(m.techniques.begin(), m.techniques.end(), technique) == m.techniques.end())
        m.techniques.push_back(technique);
    }
  }
  std::sort(m.supervisors.begin(), m.supervisors.end(), order(supervisor_order));
  return m;
}

// One cell: the verdict when every backend agrees, else each verdict with
// the backends that gave it ("leaked (copy); contained (overlay, btrfs)").
std::string cell(const Matrices& m, const std::string& technique, const std::string& supervisor) {
  std::vector<std::pair<std::string, std::vector<std::string>>> verdicts;  // in order of first backend
  for (const auto& backend : m.backends) {
    const auto matrix = m.cells.find({backend, supervisor});
    if (matrix == m.cells.end()) continue;
    const auto found = matrix->second.find(technique);
    const std::string verdict = found == matrix->second.end() ? "not in the matrix" : found->second;
    auto it = std::find_if(verdicts.begin(), verdicts.end(), [&](const auto& v) { return v.first == verdict; });
    if (it == verdicts.end()) verdicts.push_back({verdict, {backend}});
    else it->second.push_back(backend);
  }
  if (verdicts.size() == 1) return verdicts.front().first;
  std::string text;
  for (const auto& [verdict, backends] : verdicts) {
    if (!text.empty()) text += "; ";
    text += verdict + " (";
    for (std::size_t i = 0; i < backends.size(); ++i) text += (i ? ", " : "") + backends[i];
    text += ")";
  }
  return text;
}

std::string containment_table(const Matrices& m) {
  std::ostringstream out;
  out << table_begin << "\n\n";
  out << "Matrices: ";
  for (std::size_t b = 0; b < m.backends.size(); ++b) {
    out << (b ? "; " : "") << "`" << m.backends[b] << "` with ";
    std::vector<std::string> with;
    for (const auto& s : m.supervisors)
      if (m.cells.count({m.backends[b], s})) with.push_back("`" + s + "`");
    for (std::size_t i = 0; i < with.size(); ++i) out << (i ? ", " : "") << with[i];
  }
  out << ". A cell names the backends where they differ.\n\n";
  out << "| technique (`harness/adversaries/`) |";
  for (const auto& s : m.supervisors) out << " " << s << " |";
  out << "\n| --- |";
  for (std::size_t i = 0; i < m.supervisors.size(); ++i) out << " --- |";
  out << "\n";
  for (const auto& t : m.techniques) {
    out << "| `" << t << "` |";
    for (const auto& s : m.supervisors) out << " " << cell(m, t, s) << " |";
    out << "\n";
  }
  out << "\n" << table_end;
  return out.str();
}

int containment(const fs::path& doc, const fs::path& expected, bool write) {
  std::string text = read_file(doc);
  const std::string generated = containment_table(read_matrices(expected));
  const auto begin = text.find(table_begin);
  const auto end = text.find(table_end);
  if (begin == std::string::npos || end == std::string::npos || end < begin) {
    std::cout << doc.string() << ": no containment table between the markers '" << table_begin << "' and '"
              << table_end << "'\n";
    return 1;
  }
  const std::string current = text.substr(begin, end + std::string(table_end).size() - begin);
  if (write) {
    text.replace(begin, current.size(), generated);
    std::ofstream(doc, std::ios::binary) << text;
    std::cout << "wrote the containment table into " << doc.string() << "\n";
    return 0;
  }
  if (current == generated) {
    std::cout << doc.string() << ": the containment table is the one the matrices give\n";
    return 0;
  }
  // Name the rows that differ, then show the whole expected table.
  std::istringstream a(current), b(generated);
  std::set<std::string> have, want;
  for (std::string line; std::getline(a, line);) have.insert(line);
  for (std::string line; std::getline(b, line);) want.insert(line);
  for (const auto& line : want)
    if (!have.count(line)) std::cout << doc.string() << " lacks: " << line << "\n";
  for (const auto& line : have)
    if (!want.count(line)) std::cout << doc.string() << " has, the matrices do not: " << line << "\n";
  std::cout << doc.string() << ": the containment table disagrees with " << expected.string() << "; the matrices give:\n"
            << generated << "\n";
  return 1;
}

// ---- performance ---------------------------------------------------------------------

// A number as a value, whatever its spelling: "8,000" and "8000", "82.710"
// and "82.71", "1.00" and "1" are the same.
std::string canonical(std::string number) {
  number.erase(std::remove(number.begin(), number.end(), ','), number.end());
  if (number.find('.') != std::string::npos) {
    while (number.back() == '0') number.pop_back();
    if (number.back() == '.') number.pop_back();
  }
  const auto first = number.find_first_not_of('0');
  if (first == std::string::npos) return "0";
  number.erase(0, number[first] == '.' ? first - 1 : first);
  return number;
}

// The numbers a block of prose prints: digits not glued to a name (I7,
// cgroup v2, sha256 and x86_64 are names, not figures); 8,000 is one number.
std::vector<std::string> printed_numbers(const std::string& text) {
  static const std::regex number(R"([0-9]+(,[0-9]{3})*(\.[0-9]+)?)");
  std::vector<std::string> numbers;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), number); it != std::sregex_iterator(); ++it) {
    const auto at = static_cast<std::size_t>(it->position());
    if (at > 0 && (std::isalpha(static_cast<unsigned char>(text[at - 1])) || text[at - 1] == '_')) continue;
    numbers.push_back(it->str());
  }
  return numbers;
}

// Every number spelled in a result file (JSON: no thousands separators).
std::set<std::string> numbers_in(const std::string& text) {
  static const std::regex number(R"([0-9]+(\.[0-9]+)?)");
  std::set<std::string> numbers;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), number); it != std::sregex_iterator(); ++it)
    numbers.insert(canonical(it->str()));
  return numbers;
}

// The section's blocks: paragraphs, list items and tables (separated by
// blank lines, or a list item by the next "- "); a fenced code block is one
// block whatever it holds.
std::vector<std::string> blocks_of(const std::string& section) {
  std::vector<std::string> blocks;
  std::string block;
  bool fenced = false;
  std::istringstream lines(section);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("```", 0) == 0) fenced = !fenced;
    if (!fenced && line.find_first_not_of(" \t") == std::string::npos) {
      if (!block.empty()) blocks.push_back(block);
      block.clear();
      continue;
    }
    if (!fenced && line.rfind("- ", 0) == 0 && !block.empty()) {
      blocks.push_back(block);
      block.clear();
    }
    block += line + "\n";
  }
  if (!block.empty()) blocks.push_back(block);
  return blocks;
}

// The page is the section: every block of it, from its title to its end.
int performance(const fs::path& doc, const fs::path& source) {
  const std::string section = read_file(doc);

  static const std::regex citation(R"(bench/results/[0-9]{4}-[0-9]{2}-[0-9]{2}-[A-Za-z0-9._-]+\.json)");
  static const std::regex any_path(R"(bench/results/[A-Za-z0-9._/-]+)");
  std::map<std::string, std::set<std::string>> files;  // cited path -> its numbers
  int problems = 0, checked = 0;
  const auto fail = [&](const std::string& what) {
    std::cout << what << "\n";
    ++problems;
  };
  std::vector<std::string> cited;  // the citations in force: this block's, or the last block's that had some
  for (const std::string& block : blocks_of(section)) {
    std::vector<std::string> here;
    for (auto it = std::sregex_iterator(block.begin(), block.end(), citation); it != std::sregex_iterator(); ++it)
      here.push_back(it->str());
    if (!here.empty()) cited = here;
    for (const auto& path : here) {
      if (files.count(path)) continue;
      const fs::path file = source / path;
      if (!fs::is_regular_file(file)) {
        fail("cites " + path + ", which is not checked in");
        files[path] = {};
        continue;
      }
      const std::string json = read_file(file);
      for (const char* field : {"\"commit\"", "\"command\"", "\"load_average\""})
        if (json.find(field) == std::string::npos) fail(path + " has no " + std::string(field) + " field");
      files[path] = numbers_in(json);
    }
    // Paths are not figures: the dates in citations, the names of plots.
    const std::string prose = std::regex_replace(block, any_path, "");
    const auto numbers = printed_numbers(prose);
    if (numbers.empty()) continue;
    const std::string first_line = block.substr(0, block.find('\n'));
    if (cited.empty()) {
      fail("prints figures but cites no bench/results/<date>-<what>.json: " + first_line);
      continue;
    }
    for (const auto& number : numbers) {
      ++checked;
      const bool found = std::any_of(cited.begin(), cited.end(),
                                     [&](const std::string& path) { return files[path].count(canonical(number)); });
      if (!found) {
        std::string sources;
        for (const auto& path : cited) sources += (sources.empty() ? "" : ", ") + path;
        fail("prints " + number + ", which is in none of " + sources + ": " + first_line);
      }
    }
  }
  if (files.empty()) fail(doc.string() + " cites no result file");
  std::cout << checked << " number(s) in " << doc.string() << " checked against " << files.size()
            << " result file(s); " << problems << " problem(s)\n";
  return problems ? 1 : 0;
}


// ---- the README and the links between the pages --------------------------------------

// What the README opens with, verbatim: the demo and the whole test suite
// (.ci/run runs exactly the second).
constexpr const char* readme_commands[] = {
    "ci/demo   # a demo build in throwaway snapshots (run as root on a fresh Debian 12 machine)",
    "ci/test   # the whole test suite: installs what is missing, builds, runs every test",
};
constexpr std::size_t readme_max_lines = 200;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The targets of the markdown links and images of a page, outside code
// blocks and `code spans`: "[text](target)" and "![alt](target)"; "<...>"
// and titles are not used here.
std::vector<std::string> link_targets(const std::string& text) {
  static const std::regex link(R"(\]\(([^)\s]+)\))");
  static const std::regex code_span("`[^`]*`");
  std::vector<std::string> targets;
  bool fenced = false;
  for (const std::string& raw : lines_of(text)) {
    if (raw.rfind("```", 0) == 0) fenced = !fenced;
    if (fenced) continue;
    const std::string line = std::regex_replace(raw, code_span, "");
    for (auto it = std::sregex_iterator(line.begin(), line.end(), link); it != std::sregex_iterator(); ++it)
      targets.push_back((*it)[1].str());
  }
  return targets;
}

int docs(const fs::path& source) {
  int problems = 0;
  const auto fail = [&](const std::string& what) {
    std::cout << what << "\n";
    ++problems;
  };
  const fs::path readme_path = source / "README.md";
  const std::string readme = read_file(readme_path);
  const std::vector<std::string> lines = lines_of(readme);
  if (lines.size() >= readme_max_lines)
    fail("README.md has " + std::to_string(lines.size()) + " lines; it must stay under " +
         std::to_string(readme_max_lines) + " (the rest belongs in docs/)");

  // The title, then (blank lines aside) a fence holding exactly the two commands.
  std::size_t at = 0;
  if (lines.empty() || lines[0].rfind("# ", 0) != 0) fail("README.md does not start with a '# ' title");
  else at = 1;
  while (at < lines.size() && lines[at].empty()) ++at;
  const bool opens = at + 3 < lines.size() && lines[at] == "```sh" && lines[at + 1] == readme_commands[0] &&
                     lines[at + 2] == readme_commands[1] && lines[at + 3] == "```";
  if (!opens)
    fail(std::string("README.md does not open, after its title, with the two commands:\n```sh\n") + readme_commands[0] +
         "\n" + readme_commands[1] + "\n```");
  for (const char* command : readme_commands) {
    const std::string script(command, std::string_view(command).find(' '));
    const fs::path file = source / script;
    if (!fs::is_regular_file(file) || (fs::status(file).permissions() & fs::perms::owner_exec) == fs::perms::none)
      fail("README.md's command " + script + " is not an executable file of the tree");
  }

  const auto targets = link_targets(readme);
  if (std::find(targets.begin(), targets.end(), "docs/design.md") == targets.end())
    fail("README.md does not link docs/design.md, where the invariants are defined");

  const fs::path design = source / "docs" / "design.md";
  if (fs::is_regular_file(design)) {
    const std::string text = read_file(design);
    for (int n = 1; n <= 9; ++n) {
      const std::regex heading("(^|\n)#{2,4} I" + std::to_string(n) + " [A-Z][^\n]*");
      if (!std::regex_search(text, heading)) fail("docs/design.md has no heading defining I" + std::to_string(n));
    }
  } else {
    fail("docs/design.md is missing");
  }

  // Every relative link of every page leads to a file (or directory) of the tree.
  std::vector<fs::path> pages = {readme_path};
  for (const auto& entry : fs::directory_iterator(source / "docs"))
    if (entry.path().extension() == ".md") pages.push_back(entry.path());
  std::sort(pages.begin(), pages.end());
  int links = 0;
  for (const fs::path& page : pages) {
    for (std::string target : link_targets(read_file(page))) {
      if (target.find("://") != std::string::npos || target.rfind("mailto:", 0) == 0 || target[0] == '#') continue;
      target = target.substr(0, target.find('#'));
      ++links;
      if (!fs::exists(page.parent_path() / target))
        fail(fs::relative(page, source).string() + " links " + target + ", which is not in the tree");
    }
  }
  std::cout << "README.md: " << lines.size() << " lines; " << links << " relative link(s) in " << pages.size()
            << " page(s) checked; " << problems << " problem(s)\n";
  return problems ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() >= 3 && args.size() <= 4 && args[0] == "containment" && (args.size() == 3 || args[3] == "--write"))
      return containment(args[1], args[2], args.size() == 4);
    if (args.size() == 3 && args[0] == "performance") return performance(args[1], args[2]);
    if (args.size() == 2 && args[0] == "docs") return docs(args[1]);
  } catch (const std::exception& error) {
    std::cout << "snapcell-doc-claims: " << error.what() << "\n";
    return 1;
  }
  std::cerr << "usage: snapcell-doc-claims containment DOC EXPECTED_DIR [--write]\n"
               "       snapcell-doc-claims performance DOC SOURCE_DIR\n"
               "       snapcell-doc-claims docs SOURCE_DIR\n";
  return 2;
}
