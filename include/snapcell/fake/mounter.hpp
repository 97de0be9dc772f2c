#pragma once
// mkdir/rmdir, mount/umount2 and the facts stat(2) and mountinfo give, over
// the world's mount table, with Linux's answers: EBUSY while a process holds
// the mount or a submount sits on it, EINVAL for a path that is not a mount.

#include <string>
#include <vector>

#include "snapcell/fake/volumes.hpp"
#include "snapcell/fake/world.hpp"

namespace snapcell::fake {

class FakeMounter {
 public:
  FakeMounter(World& world, ControllerId controller) : world_(world), controller_(controller) {}

  Status make_dir(const std::string& path) {
    if (auto error = world_.enter(controller_, Op::make_dir, path)) return *error;
    world_.record(controller_, ActionKind::mkdir, path, world_.device_of(parent_of(path)), session_of(path));
    if (!world_.dir_exists(parent_of(path))) return errno_error("mkdir", path, ENOENT);
    if (world_.dir_exists(path)) return errno_error("mkdir", path, EEXIST);
    world_.dirs()[path] = world_.device_of(parent_of(path));
    return {};
  }

  Status remove_dir(const std::string& path) {
    if (auto error = world_.enter(controller_, Op::remove_dir, path)) return *error;
    world_.record(controller_, ActionKind::rmdir, path, world_.device_of(path), session_of(path));
    if (!world_.dir_exists(path)) return errno_error("rmdir", path, ENOENT);
    for (const auto& mount : world_.mounts())
      if (mount.target == path) return errno_error("rmdir", path, EBUSY);
    for (const auto& [dir, device] : world_.dirs())
      if (dir.rfind(path + "/", 0) == 0) return errno_error("rmdir", path, ENOTEMPTY);
    world_.dirs().erase(path);
    return {};
  }

  Status mount(const MountSpec& spec, const std::string& path) {
    if (auto error = world_.enter(controller_, Op::mount, path)) return *error;
    world_.record(controller_, ActionKind::mount, path, world_.device_of(path), session_of(path));
    if (!world_.dir_exists(path)) return errno_error("mount", path, ENOENT);
    const FakeVolume* volume = volume_of_source(spec.source);
    if (!volume) return errno_error("mount", spec.source, ENODEV);
    world_.add_mount(path, spec.source, spec.fs_type, volume->device, session_of(path));
    return {};
  }

  Result<PathFacts> facts(const std::string& path) {
    if (auto error = world_.enter(controller_, Op::facts, path)) return *error;
    if (!world_.dir_exists(path)) return errno_error("stat", path, ENOENT);
    PathFacts facts;
    facts.path_device = world_.device_of(path);
    facts.parent_device = world_.device_of(parent_of(path));
    facts.root_device = world_.device_of("/");
    for (const auto& mount : world_.mounts()) {
      MountEntry entry{mount.id, 0, mount.target, mount.source, mount.fs_type, mount.device};
      if (mount.target == path) facts.mounts_at_path.push_back(entry);
      else if (mount.target.rfind(path + "/", 0) == 0) facts.mounts_below.push_back(entry);
    }
    return facts;
  }

  Status unmount(const std::string& path, UnmountMode mode) {
    if (auto error = world_.enter(controller_, Op::unmount, path)) return *error;
    const FakeMount* on_top = world_.top_mount_at(path);
    std::string session = session_of(path);
    world_.record(controller_, ActionKind::unmount, path, world_.device_of(path), session, {},
                  on_top && !session.empty() && on_top->owner == session);
    auto& mounts = world_.mounts();
    auto top = std::find_if(mounts.rbegin(), mounts.rend(), [&](const FakeMount& m) { return m.target == path; });
    if (top == mounts.rend()) return errno_error("umount2", path, EINVAL);
    auto is_below = [&](const FakeMount& m) { return m.target.rfind(path + "/", 0) == 0; };
    if (mode == UnmountMode::plain) {
      if (world_.device_busy(top->device) || std::any_of(mounts.begin(), mounts.end(), is_below))
        return errno_error("umount2", path, EBUSY);
    }
    DeviceId device = top->device;
    mounts.erase(std::next(top).base());
    if (mode == UnmountMode::detach) mounts.erase(std::remove_if(mounts.begin(), mounts.end(), is_below), mounts.end());
    // What the build made inside the filesystem is no longer in the namespace.
    for (auto it = world_.dirs().begin(); it != world_.dirs().end();)
      it = (it->first.rfind(path + "/", 0) == 0 && it->second == device) ? world_.dirs().erase(it) : std::next(it);
    return {};
  }

  // fuser -m: every live process with its root, cwd or an open file on the device.
  Result<std::vector<Pid>> holders(DeviceId device) {
    if (auto error = world_.enter(controller_, Op::holders, std::to_string(device))) return *error;
    std::vector<Pid> pids;
    std::vector<std::string> labels;
    for (const auto& process : world_.processes())
      if (World::holds_device(process, device)) {
        pids.push_back(process.pid);
        labels.push_back(process.label);
      }
    const FakeVolume* volume = world_.volume_on(device);
    std::string session = volume ? volume->name : "";
    world_.record(controller_, ActionKind::kill_by_mount, fmt::format("device {}", device), device, session,
                  std::move(labels), world_.device_is_sessions(device, session));
    world_.listed(pids);
    return pids;
  }

  Result<std::vector<std::string>> list_dir(const std::string& path) {
    if (auto error = world_.enter(controller_, Op::list_dir, path)) return *error;
    if (!world_.dir_exists(path)) return errno_error("opendir", path, ENOENT);
    std::vector<std::string> names;
    for (const auto& [dir, device] : world_.dirs())
      if (parent_of(dir) == path && dir != path) names.push_back(dir.substr(path.size() + 1));
    return names;
  }

 private:
  std::string session_of(const std::string& path) const { return world_.session_of_path(path, world_.options().run_dir); }

  const FakeVolume* volume_of_source(const std::string& source) const {
    for (const auto& [name, volume] : world_.volumes())
      if (FakeVolumes::source_of(name) == source) return &volume;
    return nullptr;
  }

  World& world_;
  ControllerId controller_;
};

static_assert(Mounter<FakeMounter>);

}  // namespace snapcell::fake
