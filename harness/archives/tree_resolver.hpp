#pragma once
// A reference resolver for the property "nothing accepted resolves outside
// the tree", independent of archive_paths.hpp's rules: it extracts the
// accepted members into a simulated directory tree and resolves each one as
// the kernel would (symlinks followed in every component, ".." taken
// physically, from the link's own directory), then says where it landed.
// Used by harness/unit/archive_paths_test.cpp and fuzz/archive_paths_fuzz.cpp.

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "snapcell/archive_paths.hpp"

namespace snapcell::testing {

using Components = std::vector<std::string>;

inline Components split_components(std::string_view path) {
  Components parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    parts.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

inline std::string join_components(const Components& parts) {
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : "/") + part;
  return out;
}

struct Landing {
  enum class Where { inside, outside, loop } where;
  std::string path;  // where it resolved to, relative to the extraction root
};

class ExtractedTree {
 public:
  // The members as an extractor would lay them out: each at the resolved
  // location of its parent directory plus its own name.
  explicit ExtractedTree(const MemberTree& tree) : ExtractedTree(tree.top(), tree.members()) {}

  // Any tree, accepted or not (so the resolver itself can be tested).
  ExtractedTree(std::string top, const std::map<std::string, MemberTree::Entry>& members) : top_(std::move(top)) {
    for (const auto& [path, entry] : members) nodes_[split_components(path)] = entry;
  }

  // Where `path` (relative to the extraction root) ends, following symlinks
  // in every component, the last one too when `follow_last`.
  Landing resolve(std::string_view path, bool follow_last) const {
    Components queue = split_components(path);
    Components at;
    int hops = 0;
    std::size_t next = 0;
    while (next < queue.size()) {
      const std::string part = queue[next++];
      if (part.empty() || part == ".") continue;
      if (part == "..") {
        if (at.empty()) return {Landing::Where::outside, "../"};
        at.pop_back();
        continue;
      }
      Components candidate = at;
      candidate.push_back(part);
      const auto node = nodes_.find(candidate);
      const bool last = next == queue.size();
      if (node != nodes_.end() && node->second.kind == MemberKind::symlink && (!last || follow_last)) {
        if (++hops > 40) return {Landing::Where::loop, join_components(candidate)};
        const std::string& target = node->second.link_target;
        if (!target.empty() && target.front() == '/') return {Landing::Where::outside, target};
        Components rest(queue.begin() + static_cast<std::ptrdiff_t>(next), queue.end());
        queue = split_components(target);
        queue.insert(queue.end(), rest.begin(), rest.end());
        next = 0;
        continue;  // `at` stays the link's directory
      }
      at = std::move(candidate);
    }
    return {inside_top(at) ? Landing::Where::inside : Landing::Where::outside, join_components(at)};
  }

  // Where the member at `path` was written: its parent resolved, plus its name.
  Landing written_at(std::string_view path) const {
    const auto slash = path.rfind('/');
    if (slash == std::string_view::npos)
      return {top_.empty() || path == top_ ? Landing::Where::inside : Landing::Where::outside, std::string(path)};
    Landing parent = resolve(path.substr(0, slash), true);
    if (parent.where != Landing::Where::inside) return parent;
    parent.path += "/" + std::string(path.substr(slash + 1));
    return parent;
  }

  // Every way an accepted member could reach outside: where it is written,
  // where a symlink points, where a hardlink's target is. The first escape,
  // described, or nothing.
  std::optional<std::string> first_escape() const {
    for (const auto& [parts, entry] : nodes_) {
      const std::string path = join_components(parts);
      if (const auto at = written_at(path); at.where == Landing::Where::outside)
        return "member '" + path + "' is written at '" + at.path + "'";
      if (entry.kind == MemberKind::symlink) {
        if (const auto to = resolve(path, true); to.where == Landing::Where::outside)
          return "symlink '" + path + "' -> '" + entry.link_target + "' resolves to '" + to.path + "'";
      }
      if (entry.kind == MemberKind::hardlink) {
        if (const auto to = resolve(entry.link_target, true); to.where == Landing::Where::outside)
          return "hardlink '" + path + "' -> '" + entry.link_target + "' resolves to '" + to.path + "'";
      }
    }
    return std::nullopt;
  }

 private:
  // With no single top directory (a wheel), the extraction root is the tree.
  bool inside_top(const Components& at) const {
    if (top_.empty()) return true;
    return !at.empty() && at.front() == top_;
  }

  std::string top_;
  std::map<Components, MemberTree::Entry> nodes_;
};

}  // namespace snapcell::testing
