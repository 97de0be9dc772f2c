#pragma once
// The three mechanisms a Session is generic over, as concepts. A policy knows
// its mechanism only; the Session knows the order of steps, and the guards that
// decide whether a destructive step may act live in the core (ownership.hpp,
// unwind.hpp), so every backend gets the same proofs.

#include <chrono>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "snapcell/error.hpp"

namespace snapcell {

using Pid = int;
using DeviceId = std::uint64_t;
using Millis = std::chrono::milliseconds;

// What mount(2) needs to attach a volume. `source` is unique to the session so
// that mountinfo can later prove which mount is ours.
// `root` is the directory of the filesystem that becomes the mount's root
// (a btrfs subvolume, a bind mount's source): mountinfo shows it beside the
// source, and only the two together tell two subvolumes of one device apart.
struct MountSpec {
  std::string source;
  std::string fs_type;  // "bind" for a bind mount of `source`
  std::string options;
  std::string root = "/";
  // The tree already shows a user namespace's ids (its owners were written
  // shifted, or its lower layer is an idmapped mount): the Session passes it
  // on as Isolation::root_shifted, as only the volume manager knows it.
  bool shows_shifted_ids = false;
  bool operator==(const MountSpec&) const = default;
};

// One volume as the volume manager lists it.
struct VolumeInfo {
  std::string name;
  std::string origin;  // what it is a snapshot of; empty for an origin itself
  // A create cut short before it recorded its origin, holding nothing: the
  // origin is unknown, but removing it loses nothing, so no proof of origin
  // is needed. Only a backend whose volume starts empty can say so.
  bool cut_short_empty = false;
};

// The facts about a path that decide whether it is a session's own mount; the
// decision itself is `decide_ownership` in ownership.hpp.
struct MountEntry {
  int mount_id = 0;
  int parent_id = 0;
  std::string target;
  std::string source;
  std::string fs_type;
  DeviceId device = 0;  // mountinfo's major:minor; btrfs reports another st_dev per subvolume
  std::string root = "/";
};

// What identifies a mount in mountinfo: its source, and its root when that
// is not the filesystem's own root.
inline std::string mount_identity(const std::string& source, const std::string& root) {
  return root == "/" ? source : source + "[" + root + "]";
}

struct PathFacts {
  DeviceId path_device = 0;
  DeviceId parent_device = 0;
  DeviceId root_device = 0;
  std::vector<MountEntry> mounts_at_path;  // mountinfo entries whose target is the path, in order
  std::vector<MountEntry> mounts_below;    // entries strictly below the path (submounts)
};

enum class UnmountMode { plain, detach };

struct Limits {
  int max_processes = 256;
  std::uint64_t max_memory_bytes = 1ull << 30;
};

// Host ids `first` .. `first + count - 1`, shown inside a user namespace as
// 0 .. count - 1.
struct IdRange {
  std::uint32_t first = 0;
  std::uint32_t count = 0;
};

// Who the build runs as and what it can reach beyond its root. The defaults
// keep the controller's identity and network; a build of untrusted code wants
// them set (the CLI's `build` always does): a uid of its own makes
// RLIMIT_NPROC a per-build bound and takes root's powers over the snapshot
// away, and a network namespace with only loopback cuts it off the network.
//
// `user_namespace` (count > 0): the build is root of a user namespace of its
// own whose ids are that host range, and sees its root through an idmapped
// mount, so that it owns what the host's root owns on disk while holding no
// power outside the namespace. uid and gid are then ids inside it (-1: its
// root). count 0: the host's user namespace, uid and gid the host's.
struct Isolation {
  std::int64_t uid = -1;  // -1: keep the controller's (or, in a user namespace, be its root)
  std::int64_t gid = -1;
  IdRange user_namespace{};
  // In a user namespace: the root already shows the namespace's ids (an
  // overlay over a shifted lower layer, a copy with shifted owners), so it is
  // entered as it is rather than through an idmapped mount (which overlay
  // refuses). The Session sets it from MountSpec::shows_shifted_ids.
  bool root_shifted = false;
  bool private_network = false;
  std::string working_dir = "/";  // inside the root, entered before execve
  std::uint64_t tmp_bytes = 0;    // the cap of the build's /tmp (a tmpfs); 0: 1 GiB
};

struct SpawnSpec {
  std::string root;                // the mounted snapshot the command runs in
  std::vector<std::string> argv;   // never passed through a shell
  Limits limits;
  std::string log_path;            // stdout and stderr go here; empty: /dev/null
  Isolation isolation;
  int log_fd = -1;                 // instead of log_path, when given: borrowed, duplicated for the child
};

struct WaitOutcome {
  bool timed_out = false;
  int exit_code = 0;
  bool interrupted = false;  // the controller was asked to stop (I9) before the build ended: exit_code -1
};

// How much a supervisor can see. A weak one (setsid + killpg) cannot see a
// process that left its group, so its "no survivors" is not a proof.
enum class Containment { weak, full };

template <class V>
concept VolumeManager = requires(V volumes, const std::string& text) {
  { V::kind } -> std::convertible_to<std::string_view>;  // recorded in the journal, for reap
  { volumes.snapshot(text /*origin*/, text /*name*/) } -> std::same_as<Result<MountSpec>>;
  { volumes.remove(text /*name*/) } -> std::same_as<Status>;
  { volumes.list(text /*name prefix*/) } -> std::same_as<Result<std::vector<VolumeInfo>>>;
  { volumes.mount_spec(text /*name*/) } -> std::same_as<Result<MountSpec>>;
};

template <class M>
concept Mounter = requires(M mounter, const std::string& path, const MountSpec& spec, DeviceId device) {
  { mounter.make_dir(path) } -> std::same_as<Status>;  // exclusive: EEXIST is an error
  { mounter.remove_dir(path) } -> std::same_as<Status>;
  { mounter.mount(spec, path) } -> std::same_as<Status>;
  { mounter.facts(path) } -> std::same_as<Result<PathFacts>>;
  { mounter.unmount(path, UnmountMode::plain) } -> std::same_as<Status>;
  { mounter.holders(device) } -> std::same_as<Result<std::vector<Pid>>>;  // root, cwd or fd on device
  { mounter.list_dir(path) } -> std::same_as<Result<std::vector<std::string>>>;
};

// A supervisor's Unit is the containment identity recorded at spawn time; it
// can be written to the journal and read back by reap, which re-verifies it.
template <class S>
concept Supervisor =
    requires(S supervisor, typename S::Unit& unit, const typename S::Unit& const_unit, const SpawnSpec& spec,
             const std::string& text, Millis time, Pid pid, int signal) {
      { S::containment } -> std::convertible_to<Containment>;
      { S::kind } -> std::convertible_to<std::string_view>;
      { supervisor.unit_for(text /*session name*/) } -> std::same_as<typename S::Unit>;
      // spawn() leaves the command waiting at a handshake, tied to the
      // controller's life; launch() lets it run once its identity is journaled.
      // So a controller that dies in between leaves no build nobody knows of.
      { supervisor.spawn(unit, spec) } -> std::same_as<Status>;
      { supervisor.launch(unit) } -> std::same_as<Status>;
      { supervisor.wait(unit, time /*deadline from spawn*/) } -> std::same_as<Result<WaitOutcome>>;
      { supervisor.kill_all(unit, time /*grace*/) } -> std::same_as<Status>;
      { supervisor.survivors(unit) } -> std::same_as<Result<std::vector<Pid>>>;
      { supervisor.signal_member(unit, pid, signal) } -> std::same_as<Status>;
      { supervisor.release(unit) } -> std::same_as<Status>;
      { const_unit.serialize() } -> std::same_as<std::string>;
      { const_unit.belongs_to(text /*session name*/) } -> std::same_as<bool>;
      { S::Unit::parse(text) } -> std::same_as<Result<typename S::Unit>>;
    };

// The journal: one record per session, created exclusively (that claim is what
// makes a name unique) and locked for as long as its controller lives, so that
// reap can tell a dead session from a live one.
template <class J>
concept JournalStore = requires(J journal, const std::string& text) {
  { journal.claim(text /*name*/, text /*content*/) } -> std::same_as<Status>;  // EEXIST if taken
  { journal.update(text /*name*/, text /*content*/) } -> std::same_as<Status>;
  { journal.read(text /*name*/) } -> std::same_as<Result<std::string>>;
  { journal.names() } -> std::same_as<Result<std::vector<std::string>>>;
  { journal.try_adopt(text /*name*/) } -> std::same_as<Result<bool>>;  // false: a live controller holds it
  { journal.release(text /*name*/) } -> std::same_as<Status>;           // drop the lock, keep the record
  { journal.erase(text /*name*/) } -> std::same_as<Status>;
};

}  // namespace snapcell
