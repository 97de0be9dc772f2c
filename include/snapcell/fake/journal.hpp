#pragma once
// The journal as a directory of records with flock()s: a record outlives its
// controller, its lock does not.

#include <string>
#include <vector>

#include "snapcell/fake/world.hpp"

namespace snapcell::fake {

class FakeJournal {
 public:
  FakeJournal(World& world, ControllerId controller) : world_(world), controller_(controller) {}

  Status claim(const std::string& name, const std::string& content) {
    if (auto error = world_.enter(controller_, Op::journal_claim, name)) return *error;
    auto& journal = world_.journal();
    if (journal.count(name)) return errno_error("open O_EXCL", name, EEXIST);
    journal[name] = {content, controller_};
    return {};
  }

  Status update(const std::string& name, const std::string& content) {
    if (auto error = world_.enter(controller_, Op::journal_update, name)) return *error;
    auto it = world_.journal().find(name);
    if (it == world_.journal().end()) return errno_error("rename", name, ENOENT);
    if (it->second.holder != controller_) return logic_error("journal update", name, "record is not held by this controller");
    it->second.content = content;
    return {};
  }

  Result<std::string> read(const std::string& name) {
    if (auto error = world_.enter(controller_, Op::journal_read, name)) return *error;
    auto it = world_.journal().find(name);
    if (it == world_.journal().end()) return errno_error("open", name, ENOENT);
    return it->second.content;
  }

  Result<std::vector<std::string>> names() {
    if (auto error = world_.enter(controller_, Op::journal_names, "journal")) return *error;
    std::vector<std::string> names;
    for (const auto& [name, entry] : world_.journal()) names.push_back(name);
    return names;
  }

  Result<bool> try_adopt(const std::string& name) {
    if (auto error = world_.enter(controller_, Op::journal_adopt, name)) return *error;
    auto it = world_.journal().find(name);
    if (it == world_.journal().end()) return errno_error("open", name, ENOENT);
    auto& holder = it->second.holder;
    if (holder && *holder != controller_ && world_.controller_alive(*holder)) return false;
    holder = controller_;
    return true;
  }

  Status release(const std::string& name) {
    if (auto error = world_.enter(controller_, Op::journal_release, name)) return *error;
    auto it = world_.journal().find(name);
    if (it != world_.journal().end() && it->second.holder == controller_) it->second.holder.reset();
    return {};
  }

  Status erase(const std::string& name) {
    if (auto error = world_.enter(controller_, Op::journal_erase, name)) return *error;
    auto it = world_.journal().find(name);
    if (it == world_.journal().end()) return errno_error("unlink", name, ENOENT);
    if (it->second.holder != controller_) return logic_error("journal erase", name, "record is not held by this controller");
    world_.journal().erase(it);
    return {};
  }

 private:
  World& world_;
  ControllerId controller_;
};

static_assert(JournalStore<FakeJournal>);

}  // namespace snapcell::fake
