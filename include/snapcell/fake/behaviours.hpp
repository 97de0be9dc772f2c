#pragma once
// Scripted builds: what a command does once spawned in the fake world. The
// command's argv[0] names the script, so the fake runs the same SpawnSpec a
// real supervisor would, and the adversaries are the ones from the field.

#include <array>
#include <string>
#include <string_view>

#include "snapcell/fake/world.hpp"

namespace snapcell::fake {

enum class Behaviour {
  well_behaved,       // exits 0 in 10 ms
  setsid_escape,      // a child calls setsid() and sleeps: killpg misses it
  double_fork,        // fork, setsid, fork again, middle exits: a daemon
  ignores_term,       // only SIGKILL ends it
  sleeps_past_deadline,
  keeps_cwd_in_mount, // holds the mount busy with its cwd and an open file
  mounts_inside,      // mounts a tmpfs inside its root, then sleeps
  forks_during_kill,  // a SIGTERM makes it fork a setsid() child
  recycles_pid,       // a child dies when listed and its PID goes to a host process
  fork_bomb,          // forks until the process cap stops it (bounded at 200)
  writes_everywhere,  // writes into its root's files, then exits
};

inline constexpr std::array all_behaviours = {
    Behaviour::well_behaved,       Behaviour::setsid_escape,      Behaviour::double_fork,
    Behaviour::ignores_term,       Behaviour::sleeps_past_deadline, Behaviour::keeps_cwd_in_mount,
    Behaviour::mounts_inside,      Behaviour::forks_during_kill,  Behaviour::recycles_pid,
    Behaviour::fork_bomb,          Behaviour::writes_everywhere};

inline std::string_view to_string(Behaviour behaviour) {
  constexpr std::string_view names[] = {"well-behaved",   "setsid-escape",    "double-fork",        "ignores-term",
                                        "sleeps",         "cwd-in-mount",     "mounts-inside",      "forks-during-kill",
                                        "recycles-pid",   "fork-bomb",        "writes-everywhere"};
  static_assert(std::size(names) == all_behaviours.size());
  return names[static_cast<int>(behaviour)];
}

inline std::optional<Behaviour> behaviour_named(std::string_view name) {
  for (Behaviour behaviour : all_behaviours)
    if (to_string(behaviour) == name) return behaviour;
  return std::nullopt;
}

// Does the escape need a containing supervisor to be caught?
inline bool escapes_process_group(Behaviour behaviour) {
  return behaviour == Behaviour::setsid_escape || behaviour == Behaviour::double_fork ||
         behaviour == Behaviour::forks_during_kill;
}

inline constexpr int fork_bomb_bound = 200;

// Runs the script's start on the freshly spawned `command` (found again by
// serial after every fork: forks may grow the process table).
inline void start_behaviour(World& world, std::uint64_t command_serial, Behaviour behaviour, const std::string& root) {
  auto command = [&]() -> FakeProcess& { return *world.find_serial(command_serial); };
  const Time soon = world.now() + 10;
  switch (behaviour) {
    case Behaviour::well_behaved: command().exit_at = soon; break;
    case Behaviour::setsid_escape:
      if (FakeProcess* child = world.fork(command(), Script::sleeps)) World::setsid(*child);
      command().exit_at = soon;
      break;
    case Behaviour::double_fork:
      if (FakeProcess* middle = world.fork(command(), Script::well_behaved)) {
        World::setsid(*middle);
        std::uint64_t middle_serial = middle->serial;
        world.fork(*middle, Script::sleeps);
        world.find_serial(middle_serial)->exit_at = world.now() + 1;
      }
      command().exit_at = soon;
      break;
    case Behaviour::ignores_term: command().script = Script::ignores_term; break;
    case Behaviour::sleeps_past_deadline: command().script = Script::sleeps; break;
    case Behaviour::keeps_cwd_in_mount:
      command().script = Script::sleeps;
      command().fd_devices.push_back(command().root_device);
      break;
    case Behaviour::mounts_inside: {
      std::string target = root + "/tmp";
      world.dirs()[target] = command().root_device;
      world.add_mount(target, "tmpfs", "tmpfs", world.new_device(), command().lineage);
      command().script = Script::sleeps;
      break;
    }
    case Behaviour::forks_during_kill: command().script = Script::forks_on_term; break;
    case Behaviour::recycles_pid:
      world.fork(command(), Script::recycles_pid);
      command().script = Script::sleeps;
      break;
    case Behaviour::fork_bomb:
      for (int i = 0; i < fork_bomb_bound; ++i)
        if (!world.fork(command(), Script::sleeps)) break;
      command().script = Script::sleeps;
      break;
    case Behaviour::writes_everywhere:
      for (auto& [name, volume] : world.volumes())
        if (volume.device == command().root_device) volume.files["/etc/passwd"] = "owned";
      command().exit_at = soon;
      break;
  }
}

}  // namespace snapcell::fake
